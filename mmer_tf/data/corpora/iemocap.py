"""IEMOCAP from its release layout -> category segments, leave-one-session-out folds.

Layout (``IEMOCAP_full_release``): ``Session1`` .. ``Session5`` under ``-df`` (or ``-df`` one level above
them), each with

* ``dialog/EmoEvaluation/<dialog>.txt``: per utterance a line
  ``[START - END]<TAB><utterance id><TAB><label><TAB>[V, A, D]`` (times in seconds in the dialog,
  the majority label ``neu hap exc sad ang fru sur fea dis oth`` or ``xxx`` for no agreement, and the
  mean valence/activation/dominance on 1-5), followed by one line per annotator: ``C-E2:<TAB>Frustration;
  Anger;<TAB>(note)`` (categorical, one or more) and ``A-E3:<TAB>val 3; act 2; dom  2;<TAB>()``
  (dimensional); subfolders (``Categorical/``, ``Attribute/``) are not read;
* ``sentences/wav/<dialog>/<utterance id>.wav``: the utterance's sound (its own file);
* ``dialog/avi/DivX/<dialog>.avi``: the dialog's split-screen video, both actors side by side;
* ``dialog/transcriptions/<dialog>.txt``: ``<utterance id> [START-END]: words``.

An utterance id is ``Ses<SS><F|M>_<impro|script><NN>[_<k>]_<F|M><NNN>``: the last ``F``/``M`` says which
actor speaks. The utterance's picture is the ``[START, END]`` stretch of the dialog video, restricted to
the speaking actor's half (:func:`speaker_half`): the dialog id's own ``F``/``M`` (``Ses01F_…``) names the
actor who wears the motion-capture markers in that dialog, shown on the left half; the other actor is on
the right. So the speaker is on the left when their letter equals the dialog's, else on the right (the
rule public IEMOCAP preprocessing scripts crop by; not checked here against a frame of the release, which
this project does not have). Without the video (``dialog/avi`` absent) the clip is the WAV alone.

Labels (``--iemocap_protocol``): ``4class`` (the common one: neutral, happy with excited merged in, sad,
angry; other labels left out and counted) or ``6class`` (neutral, happy, excited, sad, angry,
frustrated), or ``dimensional`` (every turn, ``xxx`` and ``oth`` included; its category column is the raw
label, one class per code). Every protocol also gives the label columns ``valence``, ``activation`` and
``dominance`` (the annotators' mean, 1-5), which ``-lt dimensional`` regresses; the annotators'
categorical votes are kept in the clip table (``clips.csv``) for analyses.
``--iemocap_dialogs improvised|scripted|all`` filters the dialogs.

Protocol: leave one session out, 5 folds: ``--fold K`` tests on session ``K+1`` (both its actors,
never seen in training), validates on session ``K+2`` (mod 5), trains on the other three.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mmer_tf.data.corpora import media
from mmer_tf.data.corpora.media import ClipRecord, Labelling, Scan
from mmer_tf.errors import MmerError

NAME = "iemocap"
TITLE = "IEMOCAP"
LAYOUT = "Session1..5/dialog/EmoEvaluation/*.txt + sentences/wav/ (+ dialog/avi/, dialog/transcriptions/)"

CODES = ("neu", "hap", "exc", "sad", "ang", "fru", "sur", "fea", "dis", "oth", "xxx")
PROTOCOLS = {
    "4class": {"neu": "neutral", "hap": "happy", "exc": "happy", "sad": "sad", "ang": "angry"},
    "6class": {"neu": "neutral", "hap": "happy", "exc": "excited", "sad": "sad", "ang": "angry", "fru": "frustrated"},
    "dimensional": {code: code for code in CODES},
}
CLASS_ORDER = {"4class": ("angry", "happy", "neutral", "sad"),
               "6class": ("angry", "excited", "frustrated", "happy", "neutral", "sad"),
               "dimensional": CODES}
DIMENSIONS = ("valence", "activation", "dominance")
DIALOGS = ("all", "improvised", "scripted")
NUM_SESSIONS = 5

_SESSION = re.compile(r"^Session([1-9])$")
_UTTERANCE = re.compile(r"^(Ses(\d\d)([FM])_(impro|script)[0-9a-z]*(?:_[0-9a-z]+)?)_([FM])([0-9A-Z]{3,})$")
_TURN = re.compile(r"^\[\s*([0-9.]+)\s*-\s*([0-9.]+)\s*\]\s+(\S+)\s+(\S+)\s+\[\s*([-0-9.]+)\s*,\s*([-0-9.]+)\s*,"
                   r"\s*([-0-9.]+)\s*\]\s*$")
_CATEGORICAL = re.compile(r"^C-([A-Z]+\d*):\s*(.*?)\s*(\(.*\))?\s*$")
_DIMENSIONAL = re.compile(r"^A-([A-Z]+\d*):\s*val\s*([0-9.]+)\s*;\s*act\s*([0-9.]+)\s*;\s*dom\s*([0-9.]+)\s*;")
_TRANSCRIPT = re.compile(r"^(\S+)\s+\[\s*([0-9.]+)\s*-\s*([0-9.]+)\s*\]:\s?(.*)$")


@dataclass
class Turn:
    """One evaluated utterance of an ``EmoEvaluation`` file."""

    id: str
    start: float
    end: float
    label: str
    valence: float
    activation: float
    dominance: float
    votes: dict[str, list[str]] = field(default_factory=dict)        # annotator -> categories
    dimensions: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # annotator -> (v, a, d)


def parse_evaluation(text: str, source: str = "EmoEvaluation") -> list[Turn]:
    """The turns of one ``EmoEvaluation/<dialog>.txt``; a malformed line is a one-line error naming it."""
    turns: list[Turn] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("%"):
            continue
        if line.startswith("["):
            match = _TURN.match(line)
            if not match:
                raise MmerError(f"{source}:{number}: not an IEMOCAP turn line "
                                f"('[START - END] TURN_NAME EMOTION [V, A, D]'): {line[:80]!r}")
            start, end, utt, label, v, a, d = match.groups()
            if label not in CODES:
                raise MmerError(f"{source}:{number}: unknown IEMOCAP label {label!r} (known: {' '.join(CODES)})")
            turns.append(Turn(utt, float(start), float(end), label, float(v), float(a), float(d)))
            continue
        if not turns:
            raise MmerError(f"{source}:{number}: an annotator line before any turn line: {line[:80]!r}")
        if line.startswith("C-"):
            match = _CATEGORICAL.match(line)
            if not match:
                raise MmerError(f"{source}:{number}: not a categorical annotation line: {line[:80]!r}")
            who, names, _ = match.groups()
            turns[-1].votes[who] = [n.strip() for n in names.split(";") if n.strip()]
        elif line.startswith("A-"):
            match = _DIMENSIONAL.match(line)
            if not match:
                raise MmerError(f"{source}:{number}: not a dimensional annotation line: {line[:80]!r}")
            who, v, a, d = match.groups()
            turns[-1].dimensions[who] = (float(v), float(a), float(d))
        else:
            raise MmerError(f"{source}:{number}: not an IEMOCAP evaluation line: {line[:80]!r}")
    return turns


def parse_transcriptions(text: str) -> dict[str, str]:
    """``{utterance id: words}`` of one ``transcriptions/<dialog>.txt`` (lines without a timed id, such as
    overlapping-speech markers, are not utterances and are passed over)."""
    found = {}
    for line in text.splitlines():
        match = _TRANSCRIPT.match(line.strip())
        if match:
            found[match.group(1)] = match.group(4).strip()
    return found


def utterance_fields(utt: str) -> dict[str, str]:
    match = _UTTERANCE.match(utt)
    if not match:
        raise MmerError(f"{utt}: not an IEMOCAP utterance id (Ses01F_impro01_F000)")
    dialog, session, marked_gender, kind, speaker_gender, _ = match.groups()
    return {"dialog": dialog, "session": str(int(session)), "kind": "improvised" if kind == "impro" else "scripted",
            "gender": speaker_gender, "speaker": f"Ses{session}{speaker_gender}", "marked_gender": marked_gender}


def speaker_half(fields: dict[str, str]) -> str:
    """The half of the split-screen dialog video that shows the speaker: ``left`` for the actor wearing
    the markers in that dialog (the dialog id's letter), ``right`` for the other (see the module doc)."""
    return "left" if fields["gender"] == fields["marked_gender"] else "right"


def session_dirs(path: Path) -> list[Path]:
    path = Path(path)
    if not path.is_dir():
        return []
    found = []
    for base in (path, *[Path(e.path) for e in os.scandir(path) if e.is_dir() and not _SESSION.match(e.name)]):
        try:
            found.extend(Path(e.path) for e in os.scandir(base) if e.is_dir() and _SESSION.match(e.name))
        except OSError:
            continue
        if found:
            break
    return sorted(found)


def detect(path: Path) -> bool:
    if media.is_featurized(path):
        return media.is_featurized(path, NAME)
    return any((s / "dialog" / "EmoEvaluation").is_dir() for s in session_dirs(path))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise MmerError(f"{path}: cannot read ({exc})") from None


def _dialog_video(session: Path, dialog: str) -> Path | None:
    avi = session / "dialog" / "avi"
    for candidate in (avi / "DivX" / f"{dialog}.avi", avi / f"{dialog}.avi"):
        if candidate.is_file():
            return candidate
    return None


def scan(path: Path) -> Scan:
    result = Scan(records=[])
    for session in session_dirs(path):
        evaluations = sorted(p for p in (session / "dialog" / "EmoEvaluation").glob("*.txt")
                             if not p.name.startswith("."))
        for evaluation in evaluations:
            dialog = evaluation.stem
            result.extra_files.append(evaluation)
            turns = parse_evaluation(_read(evaluation), str(evaluation))
            transcript_file = session / "dialog" / "transcriptions" / f"{dialog}.txt"
            words = {}
            if transcript_file.is_file():
                result.extra_files.append(transcript_file)
                words = parse_transcriptions(_read(transcript_file))
            video = _dialog_video(session, dialog)
            if video is not None:
                result.extra_files.append(video)
            for turn in turns:
                try:
                    fields = utterance_fields(turn.id)
                except MmerError:
                    result.skip("not an IEMOCAP utterance id", turn.id)
                    continue
                wav = session / "sentences" / "wav" / dialog / f"{turn.id}.wav"
                if not wav.is_file():
                    result.skip("no sentences/wav file", turn.id)
                    continue
                meta = {
                    **fields, "label": turn.label, "valence": f"{turn.valence:g}", "activation": f"{turn.activation:g}",
                    "dominance": f"{turn.dominance:g}", "start": f"{turn.start:.4f}", "end": f"{turn.end:.4f}",
                    "votes": " | ".join(f"{k}:{','.join(v)}" for k, v in sorted(turn.votes.items())),
                }
                if video is not None:
                    meta.update(video=str(video), video_start=f"{turn.start:.4f}", video_end=f"{turn.end:.4f}",
                                video_region=speaker_half(fields))
                result.records.append(ClipRecord(id=turn.id, media=wav, text=words.get(turn.id), meta=meta))
    return result


def _protocol(config) -> str:
    protocol = getattr(config, "iemocap_protocol", "4class")
    if protocol not in PROTOCOLS:
        raise MmerError(f"--iemocap_protocol {protocol!r}: expected one of {', '.join(PROTOCOLS)}")
    return protocol


def _dialogs(config) -> str:
    dialogs = getattr(config, "iemocap_dialogs", "all")
    if dialogs not in DIALOGS:
        raise MmerError(f"--iemocap_dialogs {dialogs!r}: expected one of {', '.join(DIALOGS)}")
    return dialogs


def params(config) -> dict:
    return {"iemocap_protocol": _protocol(config), "iemocap_dialogs": _dialogs(config), "fold": int(config.fold)}


def label(rows, config) -> Labelling:
    """Classes of the protocol; leave-one-session-out folds (see the module doc)."""
    protocol, dialogs = _protocol(config), _dialogs(config)
    mapping, classes = PROTOCOLS[protocol], CLASS_ORDER[protocol]
    fold = int(config.fold)
    if not 0 <= fold < NUM_SESSIONS:
        raise MmerError(f"--fold {fold}: IEMOCAP has {NUM_SESSIONS} leave-one-session-out folds (0..4)")
    test, valid = str(fold + 1), str((fold + 1) % NUM_SESSIONS + 1)
    labels, folds, excluded = [], [], []
    for row in rows:
        why = None
        if dialogs != "all" and row.get("kind") != dialogs:
            why = f"{row.get('kind')} dialog (--iemocap_dialogs {dialogs})"
        elif row.get("label") not in mapping:
            why = f"label {row.get('label')} not in the {protocol} protocol"
        if why:
            labels.append(None)
            folds.append(None)
            excluded.append(why)
            continue
        labels.append(classes.index(mapping[row["label"]]))
        session = row.get("session")
        folds.append("test" if session == test else "valid" if session == valid else "train")
        excluded.append(None)
    protocol_info = {"by": "session", "num_folds": NUM_SESSIONS, "fold": fold, "test": [f"Session{test}"],
                     "valid": [f"Session{valid}"]}
    description = (f"{protocol} ({', '.join(classes)}), {dialogs} dialogs; leave-one-session-out fold {fold}: "
                   f"test Session{test}, valid Session{valid}")
    scores = {name: [float(row.get(name) or "nan") for row in rows] for name in DIMENSIONS}
    return Labelling(classes, labels, folds, excluded, description, protocol_info, scores=scores)


def describe(path: Path, config):
    return media.describe(sys.modules[__name__], path, config)


def load_segments(corpus, config, progress: bool):
    return media.load_segments(sys.modules[__name__], corpus, config, progress)
