"""Miniature raw-media corpora in their real layouts, generated in the tests.

Speech comes from ``espeak-ng`` with the emotion planted in pitch and rate (``-p``/``-s``); each speaker
has its own voice variant. Video is a drawn face (PyAV, MPEG-4 + AAC in MP4) whose mouth curve and eye
size carry the emotion (a smile or a frown; HOG sees shapes, not brightness); each speaker's face sits
elsewhere in the frame with its own skin tone. Everything is seeded and tiny (~1 s clips, 64x64 frames).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

# emotion -> (espeak pitch 0-99, words per minute, mouth curve sign)
EMOTION_STYLE = {
    "happy": (85, 240, 1), "sad": (15, 140, -1),
    "joy": (85, 240, 1), "anger": (30, 260, -1), "neutral": (50, 180, 0), "sadness": (15, 140, -1),
}
VOICES = ("en+m3", "en+f2", "en+m1", "en+f4", "en+m7", "en+f1")
SIZE = 64
FPS = 10


def have_tools() -> bool:
    return shutil.which("espeak-ng") is not None


def speak(text: str, emotion: str, speaker: int, path: Path) -> tuple[np.ndarray, int]:
    """espeak-ng speech of ``text`` as float32 mono and its rate; also written to ``path`` (WAV)."""
    import soundfile as sf

    pitch, rate, _ = EMOTION_STYLE[emotion]
    pitch = int(np.clip(pitch + (speaker % 3 - 1) * 6, 0, 99))
    voice = VOICES[speaker % len(VOICES)]
    subprocess.run(["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(rate), "-w", str(path), text],
                   check=True, capture_output=True)
    wave, sr = sf.read(str(path), dtype="float32")
    return (wave if wave.ndim == 1 else wave.mean(axis=1)), int(sr)


def face_frame(emotion: str, speaker: int, t: int) -> np.ndarray:
    """One RGB frame: a face (speaker-specific place and tone) whose mouth shows the emotion."""
    import cv2

    _, _, curve = EMOTION_STYLE[emotion]
    image = np.full((SIZE, SIZE, 3), 235, np.uint8)
    rng = np.random.default_rng(speaker * 1000 + t)
    image = np.clip(image.astype(np.int16) + rng.integers(-6, 7, image.shape), 0, 255).astype(np.uint8)
    cx, cy = 30 + (speaker % 3) * 2, 32 + (speaker % 2) * 2
    tone = (200 - speaker * 12, 160 - speaker * 8, 130)
    cv2.ellipse(image, (cx, cy), (20, 25), 0, 0, 360, tone, -1)
    eye = 4 if curve > 0 else 2 if curve < 0 else 3
    for ex in (cx - 8, cx + 8):
        cv2.circle(image, (ex, cy - 8), eye, (30, 30, 30), -1)
    if curve > 0:  # smile: lower half of an ellipse
        cv2.ellipse(image, (cx, cy + 6), (10, 7), 0, 0, 180, (120, 20, 20), 2)
    elif curve < 0:  # frown: upper half, lower on the face
        cv2.ellipse(image, (cx, cy + 15), (10, 7), 0, 180, 360, (120, 20, 20), 2)
    else:
        cv2.line(image, (cx - 9, cy + 11), (cx + 9, cy + 11), (120, 20, 20), 2)
    return image


def write_clip(path: Path, text: str, emotion: str, speaker: int, *, video: bool = True) -> Path:
    """An MP4 (drawn face + speech) or, with ``video=False``, a WAV of the spoken ``text``."""
    import av
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wave, sr = speak(text, emotion, speaker, Path(tmp) / "speech.wav")
    if not video:
        sf.write(str(path), wave, sr)
        return path
    n_frames = max(1, int(round(len(wave) / sr * FPS)))
    with av.open(str(path), "w", format="mp4") as out:
        vs = out.add_stream("mpeg4", rate=FPS)
        vs.width = vs.height = SIZE
        vs.pix_fmt = "yuv420p"
        aus = out.add_stream("aac", rate=sr)
        aus.layout = "mono"
        for t in range(n_frames):
            frame = av.VideoFrame.from_ndarray(face_frame(emotion, speaker, t), format="rgb24")
            frame.pts = t
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
        chunk = 1024
        for start in range(0, len(wave), chunk):
            piece = wave[start:start + chunk]
            frame = av.AudioFrame.from_ndarray(piece.reshape(1, -1).astype(np.float32), format="fltp", layout="mono")
            frame.sample_rate = sr
            frame.pts = start
            out.mux(aus.encode(frame))
        out.mux(aus.encode(None))
    return path


STATEMENTS = {1: "Kids are talking by the door", 2: "Dogs are sitting by the door"}
RAVDESS_CODES = {"happy": 3, "sad": 4}


def make_ravdess(root: Path, actors=(1, 2, 3, 4), emotions=("happy", "sad"), statements=(1, 2),
                 repetitions=(1, 2)) -> Path:
    """``root/Actor_XX/01-01-EE-01-SS-RR-XX.mp4`` (audio-video, speech)."""
    for actor in actors:
        for emotion in emotions:
            for stmt in statements:
                for rep in repetitions:
                    name = f"01-01-{RAVDESS_CODES[emotion]:02d}-01-{stmt:02d}-{rep:02d}-{actor:02d}.mp4"
                    write_clip(root / f"Actor_{actor:02d}" / name, STATEMENTS[stmt], emotion, actor)
    return root


MELD_HEADER = "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime\n"
MELD_LINES = ("Oh, that's great!", "I can't believe it.", "We were on a break.", "How you doin'?")


def make_meld(root: Path, dialogues: dict[str, int], emotions=("joy", "sadness")) -> Path:
    """``root/{train,dev,test}_sent_emo.csv`` + the official clip folders; speakers alternate."""
    folders = {"train": "train_splits", "dev": "dev_splits_complete", "test": "output_repeated_splits_test"}
    speakers = ("Ross", "Rachel", "Monica", "Joey")
    sentiment = {"joy": "positive", "sadness": "negative", "neutral": "neutral", "anger": "negative"}
    for split, count in dialogues.items():
        lines = [MELD_HEADER]
        sr = 1
        for dia in range(count):
            for utt, emotion in enumerate(emotions * 1):
                speaker = (dia + utt) % len(speakers)
                text = MELD_LINES[(dia + utt) % len(MELD_LINES)]
                quoted = '"' + text.replace('"', '""') + '"'
                lines.append(f'{sr},{quoted},{speakers[speaker]},{emotion},{sentiment[emotion]},{dia},{utt},'
                             f'1,1,"00:00:01,000","00:00:02,000"\n')
                write_clip(root / folders[split] / f"dia{dia}_utt{utt}.mp4", text, emotion, speaker)
                sr += 1
        (root / f"{split}_sent_emo.csv").write_text("".join(lines), encoding="utf-8")
    return root
