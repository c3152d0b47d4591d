"""CREMA-D and IEMOCAP miniatures in their real release layouts (file names, folders, label-line formats).

Speech is espeak-ng and faces are drawn (``raw_media_support``: the emotion in pitch/rate and in the
mouth), so a model can learn the planted emotion on unseen speakers. CREMA-D: ``AudioWAV/*.wav`` (16 kHz)
and ``VideoFlash/*.flv`` (Flash video + AAC, what the release ships). IEMOCAP: per session the
split-screen dialog video (``dialog/avi/DivX/<dialog>.avi``: the actor wearing the markers, the dialog
id's letter, on the left half, the other on the right, each half drawn with its own face; the speaking
actor's face shows the emotion),
``sentences/wav/<dialog>/<utterance>.wav``, ``dialog/transcriptions/<dialog>.txt`` and
``dialog/EmoEvaluation/<dialog>.txt`` in the release's line formats.
"""

from __future__ import annotations

import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

from raw_media_support import FPS, SIZE, face_frame, speak

CREMAD_CODES = {"anger": "ANG", "happy": "HAP", "sad": "SAD", "neutral": "NEU"}


def _write_av(path: Path, frames, wave: np.ndarray, sr: int, *, fmt: str, vcodec: str) -> Path:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    frames = list(frames)
    with av.open(str(path), "w", format=fmt) as out:
        vs = out.add_stream(vcodec, rate=FPS)
        vs.height, vs.width = frames[0].shape[:2]
        vs.pix_fmt = "yuv420p"
        aus = out.add_stream("aac", rate=sr)
        aus.layout = "mono"
        for t, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = t, Fraction(1, FPS)
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
        for start in range(0, len(wave), 1024):
            piece = wave[start:start + 1024]
            frame = av.AudioFrame.from_ndarray(piece.reshape(1, -1).astype(np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = sr, start
            out.mux(aus.encode(frame))
        out.mux(aus.encode(None))
    return path


def make_cremad(root: Path, actors=(1001, 1002, 1003, 1004), emotions=("happy", "sad"),
                sentences=("DFA", "IEO"), video_actors=None) -> Path:
    """``root/AudioWAV/<id>.wav`` for every clip and ``root/VideoFlash/<id>.flv`` for ``video_actors``
    (default all): ids ``ActorID_Sentence_Emotion_XX``."""
    import soundfile as sf

    from mmer_tf.data.corpora.cremad import SENTENCES

    video_actors = actors if video_actors is None else video_actors
    for i, actor in enumerate(actors):
        for emotion in emotions:
            for sentence in sentences:
                stem = f"{actor}_{sentence}_{CREMAD_CODES[emotion]}_XX"
                (root / "AudioWAV").mkdir(parents=True, exist_ok=True)
                with tempfile.TemporaryDirectory() as tmp:
                    wave, sr = speak(SENTENCES[sentence], emotion, i + 1, Path(tmp) / "s.wav")
                sf.write(str(root / "AudioWAV" / f"{stem}.wav"), wave, sr)
                if actor in video_actors:
                    n = max(1, int(round(len(wave) / sr * FPS)))
                    _write_av(root / "VideoFlash" / f"{stem}.flv", (face_frame(emotion, i + 1, t) for t in range(n)),
                              wave, sr, fmt="flv", vcodec="flv")
    return root


IEMOCAP_LINES = ("I can't believe this happened", "Well that is just great", "Where have you been all day",
                 "Let me think about it")
IEMOCAP_STYLE = {"ang": "anger", "hap": "happy", "exc": "happy", "sad": "sad", "neu": "neutral",
                 "xxx": "neutral", "oth": "neutral", "fru": "anger"}
FULL_NAMES = {"ang": "Anger", "hap": "Happiness", "exc": "Excited", "sad": "Sadness", "neu": "Neutral state",
              "fru": "Frustration", "xxx": "Other", "oth": "Other"}


def split_frame(speaking: str, emotion: str, session: int, t: int, marked: str) -> np.ndarray:
    """The split-screen picture: the face of the actor wearing the markers (``marked``, the dialog id's
    letter) on the left half, the other actor's on the right; the speaker's mouth shows ``emotion``, the
    listener's is neutral. Each actor keeps one drawn identity (female ``2 * session``, male ``+ 1``)."""
    other = "M" if marked == "F" else "F"
    left, right = (face_frame(emotion if speaking == actor else "neutral", 2 * session + (actor == "M"), t)
                   for actor in (marked, other))
    return np.concatenate([left, right], axis=1)


def make_iemocap(root: Path, sessions=(1, 2, 3, 4, 5), dialogs=("impro01", "script01_1"),
                 plan=(("F", "hap"), ("M", "sad"), ("F", "ang"), ("M", "neu"), ("F", "exc"), ("M", "xxx"))
                 ) -> Path:
    """``root/Session<k>/...`` with one dialog per name in ``dialogs``; each dialog's utterances follow
    ``plan`` (speaker, majority label), with 3-annotator categorical lines, VAD in [1, 5] and a gap of
    0.3 s between utterances in the dialog video."""
    import soundfile as sf

    for session in sessions:
        base = root / f"Session{session}"
        for dialog_kind in dialogs:
            gender = "F" if session % 2 else "M"
            dialog = f"Ses{session:02d}{gender}_{dialog_kind}"
            frames, audio, label_lines, transcript, t = [], [], [], [], 0.0
            sr = None
            for u, (speaker, code) in enumerate(plan):
                utt = f"{dialog}_{speaker}{u:03d}"
                line = IEMOCAP_LINES[u % len(IEMOCAP_LINES)]
                with tempfile.TemporaryDirectory() as tmp:
                    wave, sr = speak(line, IEMOCAP_STYLE[code], 2 * session + (speaker == "M"), Path(tmp) / "s.wav")
                wav = base / "sentences" / "wav" / dialog / f"{utt}.wav"
                wav.parent.mkdir(parents=True, exist_ok=True)
                sf.write(str(wav), wave, sr)
                gap = np.zeros(int(0.3 * sr), np.float32)
                start = t + 0.3
                end = start + len(wave) / sr
                audio.extend([gap, wave])
                n0, n1 = int(round(t * FPS)), int(round(end * FPS))
                frames.extend(split_frame(speaker, "neutral", session, k, gender)
                              for k in range(n0, int(round(start * FPS))))
                frames.extend(split_frame(speaker, IEMOCAP_STYLE[code], session, k, gender)
                              for k in range(int(round(start * FPS)), n1))
                t = n1 / FPS
                v, a, d = {"hap": (4.0, 3.5, 3.0), "exc": (4.5, 4.0, 3.5), "sad": (1.5, 2.0, 2.0),
                           "ang": (1.5, 4.5, 4.0), "xxx": (3.0, 2.5, 2.5)}.get(code, (3.0, 3.0, 3.0))
                label_lines.append(f"[{start:.4f} - {end:.4f}]\t{utt}\t{code}\t[{v:.4f}, {a:.4f}, {d:.4f}]")
                names = [FULL_NAMES[code]] * 2 + ["Neutral state" if code != "neu" else "Frustration"]
                if code == "xxx":  # no majority: the annotators disagree
                    names = ["Anger", "Sadness", "Neutral state"]
                for k, name in enumerate(names, start=1):
                    label_lines.append(f"C-E{k}:\t{name};\t()")
                label_lines.append(f"A-E1:\tval {int(v)}; act {int(a)}; dom  {int(d)};\t()")
                label_lines.append("")
                transcript.append(f"{utt} [{start:08.4f}-{end:08.4f}]: {line}")
            eval_dir = base / "dialog" / "EmoEvaluation"
            eval_dir.mkdir(parents=True, exist_ok=True)
            header = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"
            (eval_dir / f"{dialog}.txt").write_text(header + "\n".join(label_lines) + "\n", encoding="utf-8")
            trans_dir = base / "dialog" / "transcriptions"
            trans_dir.mkdir(parents=True, exist_ok=True)
            (trans_dir / f"{dialog}.txt").write_text("\n".join(transcript) + "\n", encoding="utf-8")
            _write_av(base / "dialog" / "avi" / "DivX" / f"{dialog}.avi", frames, np.concatenate(audio), sr,
                      fmt="avi", vcodec="mpeg4")
    return root


__all__ = ["make_cremad", "make_iemocap", "split_frame", "SIZE"]
