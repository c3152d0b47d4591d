"""C-EXPR-DB in its real layout, generated: annotated videos with per-frame compound labels and -1 gaps, the
seed's fold files (``split-0/{train,val,test}.txt``, ``class_id.yaml``), trained with ``lfan`` on windows
through ``main.py``, writing frame- and video-level rows.

The videos are drawn faces with espeak-ng speech (``tests/raw_media_support.py``): "Happily Surprised"
videos smile with high-pitched speech, "Sadly Fearful" ones frown with low-pitched speech.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mmer_tf.config import ExperimentConfig
from mmer_tf.data.corpora import cexprdb, split_dir
from mmer_tf.errors import MmerError
from raw_media_support import FPS, have_tools, write_clip

REPO = Path(__file__).resolve().parents[3]
ABAW_ORDER = cexprdb.COMPOUND + (cexprdb.OTHER,)
# the seed's folds/C-EXPR-DB/split-0/class_id.yaml, verbatim
CLASS_ID_YAML = ("Angrily Surprised: 4\nDisgustedly Surprised: 3\nFearfully Surprised: 0\nHappily Surprised: 1\n"
                 "Other: 7\nSadly Angry: 6\nSadly Fearful: 5\nSadly Surprised: 2\n")
STYLE = {"Happily Surprised": "happy", "Sadly Fearful": "sad"}
TEXTS = ("Oh my goodness, look at that, what a surprise", "No no, please, they are coming for us now")
# video -> (class, fold, speaker)
VIDEOS = {f"v{i}": (cls, fold, i % 3) for i, (cls, fold) in enumerate(
    [("Happily Surprised", "train"), ("Sadly Fearful", "train"), ("Happily Surprised", "train"),
     ("Sadly Fearful", "train"), ("Happily Surprised", "val"), ("Sadly Fearful", "val"),
     ("Happily Surprised", "test"), ("Sadly Fearful", "test")])}

pytestmark = pytest.mark.skipif(not have_tools(), reason="espeak-ng is not installed")


def frame_count(path: Path) -> int:
    import av

    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def write_split(folder: Path) -> Path:
    """The seed's fold files for :data:`VIDEOS`: ``Class-Name/video,class id,transcript`` lines + class_id.yaml."""
    lists = {"train": [], "val": [], "test": []}
    for name, (cls, fold, _) in VIDEOS.items():
        class_id = CLASS_ID_YAML.split(cls + ": ")[1].split()[0]
        lists[fold].append(f"{cls.replace(' ', '-')}/{name},{class_id},some words, with commas")
    folder.mkdir(parents=True)
    for fold, lines in lists.items():
        (folder / f"{fold}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "class_id.yaml").write_text(CLASS_ID_YAML, encoding="utf-8")
    return folder


def make_cexprdb(root: Path) -> Path:
    """``root/videos/*.mp4``, ``root/annotation/*.txt`` (a class per frame, -1 gaps), ``root/folds/split-0``."""
    for name, (cls, fold, speaker) in VIDEOS.items():
        video = write_clip(root / "videos" / f"{name}.mp4", TEXTS[int(cls.startswith("Sadly"))], STYLE[cls], speaker)
        frames = np.full(frame_count(video), ABAW_ORDER.index(cls))
        frames[:2] = -1                      # unlabelled start
        frames[len(frames) // 2] = -1        # and one gap in the middle
        (root / "annotation").mkdir(parents=True, exist_ok=True)
        (root / "annotation" / f"{name}.txt").write_text(
            ",".join(ABAW_ORDER) + "\n" + "\n".join(str(v) for v in frames) + "\n", encoding="utf-8")
    write_split(root / "folds" / "split-0")
    return root


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_cexprdb(tmp_path_factory.mktemp("media") / "C-EXPR-DB")


@pytest.mark.slow
def test_split_files_and_frame_labels(corpus, tmp_path):
    from mmer_tf.data import dataset

    config = ExperimentConfig(dataset_folder=str(corpus), pickle_folder=str(tmp_path / "cache"),
                              label_type="category", modalities=("audio", "vision"), recipe_options=("fps=10",),
                              split_dir=str(corpus / "folds" / "split-0"))
    folds, info = dataset.load_folds(config, progress=False)
    assert info["corpus"] == "cexprdb" and info["classes"] == list(cexprdb.COMPOUND)
    assert {name: len(f) for name, f in folds.items()} == {"train": 4, "valid": 2, "test": 2}
    assert sorted(folds["test"].ids) == ["v6[0]", "v7[0]"]
    for fold in folds.values():
        for vid, labels, y, vision in zip(fold.ids, fold.frame_labels, fold.labels, fold.features["vision"]):
            cls = VIDEOS[vid[:-3]][0]
            assert len(labels) == len(vision) and np.isnan(labels[0, 0])  # first frames unlabelled (-1)
            assert np.isnan(labels).sum() >= 2
            assert set(labels[np.isfinite(labels)].astype(int)) == {cexprdb.COMPOUND.index(cls)}
            assert y[0] == cexprdb.COMPOUND.index(cls)
            assert fold.features["audio"][fold.ids.index(vid)].shape[0] == len(vision)  # one frame axis


def test_split_dir_assigns_folds_and_leaves_unlisted_clips_out(tmp_path):
    from mmer_tf.data.corpora.media import Labelling

    split = write_split(tmp_path / "split-0")
    rows = [{"id": name} for name in VIDEOS] + [{"id": "unlisted"}]
    classes = [cexprdb.COMPOUND.index(cls) for cls, _, _ in VIDEOS.values()]
    labelling = Labelling(cexprdb.COMPOUND, classes + [1], [None] * len(rows), [None] * len(rows))
    applied = split_dir.apply(split, rows, labelling)
    assert applied.fold[:-1] == [{"val": "valid"}.get(f, f) for _, f, _ in VIDEOS.values()]
    assert applied.label[-1] is None and applied.excluded[-1] == "not listed in --split_dir"
    assert split_dir.read_class_ids(split / "class_id.yaml")[5] == "Sadly Fearful"


def test_split_dir_refuses_a_class_mismatch_and_missing_files(tmp_path):
    from mmer_tf.data.corpora.media import Labelling

    bad = write_split(tmp_path / "split")
    train = bad / "train.txt"
    train.write_text(train.read_text().replace("Happily-Surprised/v0,1", "Happily-Surprised/v0,5"))
    rows = [{"id": "v0"}, {"id": "v1"}]
    labelling = Labelling(cexprdb.COMPOUND, [1, 5], ["train", "train"], [None, None])
    with pytest.raises(MmerError, match=r"train.txt line 1: Happily-Surprised/v0 is listed as Sadly Fearful"):
        split_dir.apply(bad, rows, labelling)
    (bad / "val.txt").unlink()
    with pytest.raises(MmerError, match=r"--split_dir .*: no val.txt or valid.txt"):
        split_dir.split_files(bad)


@pytest.mark.slow
def test_lfan_trains_on_windows_and_writes_frame_and_video_rows(corpus, tmp_path):
    command = [sys.executable, "main.py", "-df", str(corpus), "--split_dir", str(corpus / "folds" / "split-0"),
               "-mn", "lfan", "-lt", "category", "--modalities", "audio,vision", "--recipe_options", "fps=10",
               "--window_length", "6", "--hop_length", "4", "-e", "2", "-b", "4", "--seed", "1", "--verbose", "0",
               "--lfan_vision_channels", "16,8", "--lfan_audio_channels", "8,8", "--lfan_tcn_kernel_size", "3",
               "--video_score", "frames_avg_logits", "-sp",
               "-pf", str(tmp_path / "cache"), "-mf", str(tmp_path / "models")]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    csv = tmp_path / "models" / "lfan" / "csv"
    frames = pd.read_csv(csv / "classification_category_frames.csv")
    videos = pd.read_csv(csv / "classification_category_videos.csv")
    assert len(frames) == 1 and len(videos) == 1 and frames["run_id"][0] == videos["run_id"][0]
    for table in (frames, videos):
        assert 0.0 <= table["acc"][0] <= 1.0
    ids = pd.read_csv(csv / "model_ids.csv")
    assert ids["hp_tcn_kernel_size"].iloc[-1] == 3 and ids["window_length"].iloc[-1] == 6
    assert not (csv / "classification_category.csv").exists()  # the segment table is not written


def test_the_releases_time_span_annotation(tmp_path):
    header = ",".join(cexprdb.SPAN_HEADER + ABAW_ORDER)
    marks = lambda cls: ",".join("1" if c == cls else "" for c in ABAW_ORDER)  # noqa: E731
    path = tmp_path / "vid.csv"
    path.write_text(f"{header}\n00:00:00.500,00:00:01.500,{marks('Sadly Angry')}\n"
                    f"00:00:02.000,00:00:04.000,{marks('Happily Surprised')}\n"
                    f"00:00:04.000,00:00:04.500,{marks('Other')}\n", encoding="utf-8")
    row = {"annotation": str(path), "media": "unused.mp4"}
    times = np.array([0.2, 0.6, 1.49, 1.7, 2.0, 3.9, 4.2, 5.0])
    seven = cexprdb.COMPOUND
    got = cexprdb.labels_at(row, times, seven)
    expected = [np.nan, 6, 6, np.nan, 1, 1, np.nan, np.nan]  # Other is no label without --use_other_class
    np.testing.assert_array_equal(got, np.asarray(expected, np.float32))
    assert cexprdb.labels_at(row, times, seven + ("Other",))[6] == 7
    assert cexprdb.video_label(row, seven) == 1  # 2 s of Happily Surprised beat 1 s of Sadly Angry
    path.write_text(f"{header}\n00:00:01.000,00:00:00.500,{marks('Sadly Angry')}\n", encoding="utf-8")
    with pytest.raises(MmerError, match="vid.csv line 2: the span ends before it begins"):
        cexprdb.read_spans(path)


def test_trimmed_clips_are_one_label_each_and_other_needs_its_flag(tmp_path):
    root = tmp_path / "C-EXPR-DB"
    for folder, clip in (("Happily-Surprised", "3_Happily-Surprised_0"), ("Sadly-Angry", "9_Sadly-Angry_1"),
                         ("Other", "5_Other_0"), ("Not-A-Class", "x")):
        (root / "trimmed_videos" / folder).mkdir(parents=True, exist_ok=True)
        (root / "trimmed_videos" / folder / f"{clip}.mp4").write_bytes(b"")
    assert cexprdb.detect(root)
    scan = cexprdb.scan(root)
    assert [r.id for r in scan.records] == ["Happily-Surprised__3_Happily-Surprised_0", "Other__5_Other_0",
                                            "Sadly-Angry__9_Sadly-Angry_1"]
    assert scan.skipped == {"class folder not a C-EXPR-DB class": ["Not-A-Class"]}
    rows = [{"id": r.id, **r.meta} for r in scan.records]
    config = ExperimentConfig(num_folds=3)
    seven = cexprdb.label(rows, config)
    assert seven.label == [1, None, 6] and "use_other_class" in seven.excluded[1]
    eight = cexprdb.label(rows, ExperimentConfig(num_folds=3, use_other_class=True))
    assert eight.classes[-1] == "Other" and eight.label == [1, 7, 6]
    # the seed's fold line for a trimmed clip names it as Class/clip: it matches the clip id
    split = tmp_path / "split"
    split.mkdir()
    (split / "train.txt").write_text("Happily-Surprised/3_Happily-Surprised_0,1,Oh!\n")
    (split / "val.txt").write_text("Sadly-Angry/9_Sadly-Angry_1,6,no\n")
    (split / "test.txt").write_text("Other/5_Other_0,7,hm\n")
    applied = split_dir.apply(split, rows, cexprdb.label(rows, ExperimentConfig(split_dir=str(split))))
    assert applied.fold == ["train", None, "valid"] and applied.label == [1, None, 6]


def test_rows_on_the_frame_axis_by_hand():
    from mmer_tf.data.corpora.frame_axis import to_axis

    axis = np.array([[0.0, 0.1], [0.1, 0.2], [0.2, 0.3], [0.3, 0.4], [0.4, 0.5]])
    # words at [0.12, 0.18] and [0.15, 0.28]; nothing before 0.1; a pause after 0.28
    intervals = np.array([[0.15, 0.28], [0.12, 0.18]])
    features = np.array([[4.0], [2.0]])
    out = to_axis(intervals, features, axis)[:, 0]
    # step 0: before any row (zeros); step 1: mean of both overlapping rows; step 2: the second word only;
    # steps 3-4: the last row that started before them is held (the word starting at 0.15)
    np.testing.assert_allclose(out, [0.0, 3.0, 4.0, 4.0, 4.0])
    assert to_axis(np.zeros((0, 2)), np.zeros((0, 3)), axis).shape == (5, 3)
