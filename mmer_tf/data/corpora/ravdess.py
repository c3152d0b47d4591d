"""RAVDESS from its media: ``Actor_XX/*.mp4|*.wav`` -> category segments, speaker-independent folds.

Layout (as the Zenodo archives extract): folders ``Actor_01`` .. ``Actor_24`` anywhere up to two levels
under ``-df`` (``Audio_Speech_Actors_01-24/Actor_01/03-01-...wav`` and ``Actor_01/01-01-...mp4`` both
work), each file named by seven two-digit codes ``MM-VV-EE-II-SS-RR-AA``: modality (01 audio-video,
02 video-only, 03 audio-only), vocal channel (01 speech, 02 song), emotion (01 neutral, 02 calm,
03 happy, 04 sad, 05 angry, 06 fearful, 07 disgust, 08 surprised), intensity (01 normal, 02 strong),
statement (01 "Kids are talking by the door", 02 "Dogs are sitting by the door"), repetition (01, 02),
actor (01-24; odd male, even female). The actor code must match the ``Actor_XX`` folder.

Which file per recording: audio-video (01) when present, else audio-only (03). Video-only files (02)
have no speech and are passed over (counted), as is a second copy of a recording. The transcript is the
statement, so text carries no emotion (it is identical across classes by design).

Labels: the 8 emotions, or a subset (``--emotions happy,sad``); ``--vocal_channel speech|song``.

Protocol (speaker-independent, never an actor in two folds): the actors present are sorted by number
and cut into ``--num_folds`` contiguous blocks; block ``--fold K`` is the test set, block ``K+1``
(mod k) validation, the rest training. With all 24 actors and the default 6 folds the blocks are
actors 1-4, 5-8, 9-12, 13-16, 17-20, 21-24 (two men and two women each): ``--fold 0`` tests on actors
1-4 and validates on 5-8. The blocks are logged and kept in the load summary.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from mmer_tf.data.corpora import layout, media
from mmer_tf.data.corpora.media import ClipRecord, Labelling, Scan
from mmer_tf.errors import MmerError

NAME = "ravdess"
TITLE = "RAVDESS"
LAYOUT = "Actor_XX/MM-VV-EE-II-SS-RR-AA.mp4|.wav"
# What a run trains on when --modalities is not typed (mmer_tf.corpus_defaults): by design every emotion
# is spoken with the same two sentences, so the transcript carries no emotion and predict needs no --text.
DEFAULT_MODALITIES = ("audio", "vision")
DEFAULT_MODALITIES_WHY = "RAVDESS's transcript is one of two fixed sentences, the same for every emotion"

EMOTIONS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
MODALITY = {"01": "audio-video", "02": "video-only", "03": "audio-only"}
CHANNELS = {"01": "speech", "02": "song"}
INTENSITY = {"01": "normal", "02": "strong"}
_NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")
_ACTOR_DIR = re.compile(r"^Actor_(\d\d)$")


def parse_name(stem: str) -> dict[str, str]:
    """The seven codes of a RAVDESS file name as named fields; ``MmerError`` if it is not one."""
    match = _NAME.match(stem)
    if not match:
        raise MmerError(f"{stem}: not a RAVDESS file name (7 two-digit codes MM-VV-EE-II-SS-RR-AA)")
    mod, channel, emo, inten, stmt, rep, actor = match.groups()
    problems = []
    if mod not in MODALITY:
        problems.append(f"modality {mod}")
    if channel not in CHANNELS:
        problems.append(f"vocal channel {channel}")
    if not 1 <= int(emo) <= len(EMOTIONS):
        problems.append(f"emotion {emo}")
    if inten not in INTENSITY:
        problems.append(f"intensity {inten}")
    if stmt not in STATEMENTS:
        problems.append(f"statement {stmt}")
    if rep not in ("01", "02"):
        problems.append(f"repetition {rep}")
    if not 1 <= int(actor) <= 99:
        problems.append(f"actor {actor}")
    if problems:
        raise MmerError(f"{stem}: RAVDESS code(s) out of range: {', '.join(problems)}")
    return {
        "modality": MODALITY[mod], "vocal_channel": CHANNELS[channel], "emotion": EMOTIONS[int(emo) - 1],
        "intensity": INTENSITY[inten], "statement": stmt, "repetition": rep, "actor": actor,
        "speaker": f"Actor_{actor}",
    }


def actor_dirs(path: Path, depth: int = 3) -> list[Path]:
    """``Actor_XX`` folders: ``path`` itself, or those up to ``depth`` levels below it."""
    if Path(path).is_dir() and _ACTOR_DIR.match(Path(path).name):
        return [Path(path)]
    return layout.find_dirs(path, _ACTOR_DIR.match, depth)


def detect(path: Path) -> bool:
    if media.is_featurized(path):
        return media.is_featurized(path, NAME)
    for folder in actor_dirs(path)[:3]:
        for file in folder.iterdir():
            if file.suffix.lower() in (".mp4", ".wav") and _NAME.match(file.stem):
                return True
    return False


def scan(path: Path) -> Scan:
    result = Scan(records=[])
    chosen: dict[str, tuple[int, Path, dict]] = {}  # recording (codes 2-7) -> (preference, file, fields)
    preference = {"audio-video": 0, "audio-only": 1}
    for folder in actor_dirs(path):
        folder_actor = _ACTOR_DIR.match(folder.name).group(1)
        for file, fields in layout.named_files(folder, (".mp4", ".wav"), parse_name, result, "RAVDESS"):
            if fields["actor"] != folder_actor:
                result.skip("actor code differs from its Actor_XX folder", f"{folder.name}/{file.name}")
                continue
            if fields["modality"] == "video-only":
                result.skip("video-only file (no speech)", file.name)
                continue
            recording = file.stem[3:]
            rank = preference[fields["modality"]]
            if recording in chosen:
                kept = chosen[recording]
                if rank < kept[0]:
                    result.skip("second copy of a recording", kept[1].name)
                    chosen[recording] = (rank, file, fields)
                else:
                    result.skip("second copy of a recording", file.name)
                continue
            chosen[recording] = (rank, file, fields)
    for recording, (_, file, fields) in sorted(chosen.items(), key=lambda kv: kv[1][1].stem):
        result.records.append(ClipRecord(id=file.stem, media=file, text=STATEMENTS[fields["statement"]],
                                         meta=fields))
    return result


def selected_emotions(config) -> tuple[str, ...]:
    return media.selected_emotions(config, EMOTIONS, TITLE)


def params(config) -> dict:
    return {"emotions": list(selected_emotions(config)), "vocal_channel": config.vocal_channel,
            "fold": int(config.fold), "num_folds": int(config.num_folds)}


def label(rows, config) -> Labelling:
    """Classes = the selected emotions (RAVDESS order; without ``--emotions``, all the channel has: song has
    no disgust, surprised); folds by actor blocks (see the module doc)."""
    channel = config.vocal_channel
    if channel not in CHANNELS.values():
        raise MmerError(f"--vocal_channel {channel!r}: expected speech or song")
    return media.actor_emotion_labelling(
        rows, config, selected_emotions(config),
        left_out=lambda row: None if row.get("vocal_channel") == channel
        else f"vocal channel {row.get('vocal_channel')} (--vocal_channel {channel})",
        actor_name=lambda actor: f"Actor_{actor}", prefix=f"{channel}, ")


def describe(path: Path, config):
    return media.describe(sys.modules[__name__], path, config)


def load_segments(corpus, config, progress: bool):
    return media.load_segments(sys.modules[__name__], corpus, config, progress)
