"""CMU-MOSEI/MOSI adapter (load_segments) and the ``python -m mmer_tf align`` CLI, end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from mmer_tf.formats.csd import CsdReader, write_csd
from mmer_tf.data.corpora.cmu import load_segments
from mmer_tf.errors import MmerError
from sdk_support import defective_dataset

ROOT = Path(__file__).resolve().parents[3]
MOSEI_FILES = {
    "glove_vectors": "CMU_MOSEI_TimestampedWordVectors.csd",
    "COVAREP": "CMU_MOSEI_COVAREP.csd",
    "FACET 4.2": "CMU_MOSEI_VisualFacet42.csd",
    "All Labels": "CMU_MOSEI_Labels.csd",
}


def on_scale(labels: dict) -> dict:
    """The defective dataset's label rows moved onto the real scales (sentiment [-3, 3], emotions [0, 3])."""
    out = {}
    for vid, entry in labels.items():
        values = np.array(entry["features"], dtype=np.float32)
        values[:, 1:] = np.clip(np.abs(values[:, 1:]), 0, 3)
        values[:, 0] = np.clip(values[:, 0], -3, 3)
        out[vid] = {"intervals": entry["intervals"], "features": values}
    return out


def scaled_dataset(seed: int = 0) -> dict:
    dataset = defective_dataset(seed)
    dataset["All Labels"] = on_scale(dataset["All Labels"])
    return dataset


def write_corpus(folder: Path, dataset=None, names=MOSEI_FILES, roots=None) -> Path:
    dataset = dataset or scaled_dataset(0)
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in dataset.items():
        write_csd(folder / names[name], (roots or {}).get(name, name), data)
    return folder


def test_word_aligned_view_has_one_row_per_word_and_label_rows(tmp_path):
    dataset = scaled_dataset(0)
    dataset["OpenFace_2"] = {
        vid: {"intervals": e["intervals"], "features": np.ones((len(e["intervals"]), 5), np.float32)}
        for vid, e in dataset["FACET 4.2"].items()
    }
    folder = write_corpus(tmp_path / "mosei", dataset, {**MOSEI_FILES, "OpenFace_2": "CMU_MOSEI_VisualOpenFace2.csd"})
    segments, summary = load_segments(folder, progress=False)
    assert segments.aligned and segments.dims() == {"text": 6, "audio": 4, "vision": 3}
    assert segments.labels.shape == (len(segments), 7) and len(segments) == summary["segments"] > 0
    for m in ("audio", "vision"):
        assert np.array_equal(segments.lengths(m), segments.lengths("text"))
    assert all(x.dtype == np.float32 for x in segments.features["audio"])
    assert any(np.isnan(x).any() for x in segments.features["audio"])  # NaN left for the pipeline
    labels = dataset["All Labels"]
    for i, sid in enumerate(segments.ids):
        video, k = sid[:-1].split("[")
        np.testing.assert_array_equal(segments.labels[i], labels[video]["features"][int(k)])
    assert "v02x" not in set(segments.video_ids())  # missing from COVAREP
    assert summary["dropped_videos"]["missing in COVAREP"] == 1
    assert summary["videos"] == 4 and summary["imputed"]["FACET 4.2"] > 0
    openface, _ = load_segments(folder, image_feature="openface", progress=False)
    assert openface.dims()["vision"] == 5


def test_unaligned_view_keeps_each_rate(tmp_path):
    folder = write_corpus(tmp_path / "mosei")
    segments, summary = load_segments(folder, align_to_text=False, progress=False)
    assert not segments.aligned and summary["aligned"] is False
    labels = defective_dataset(0)["All Labels"]
    durations = np.array([np.diff(labels[s[:-1].split("[")[0]]["intervals"][int(s[:-1].split("[")[1])])[0]
                          for s in segments.ids])
    # COVAREP is continuous at 100 Hz: one row per frame touching the segment (+1 at a cut edge)
    assert np.all(np.abs(segments.lengths("audio") - 100 * durations) <= 2)
    assert np.all(segments.lengths("vision") <= 30 * durations + 2)  # FACET: 30 Hz with gaps
    word_aligned, _ = load_segments(folder, progress=False)
    # a segment inside a FACET gap survives only word-aligned, where its vision rows are imputed zeros
    only_aligned = set(word_aligned.ids) - set(segments.ids)
    assert only_aligned
    for sid in only_aligned:
        assert not word_aligned.features["vision"][word_aligned.ids.index(sid)].any()


def test_mosi_names_and_sentiment_only_labels(tmp_path):
    dataset = scaled_dataset(1)
    dataset["All Labels"] = {v: {"intervals": e["intervals"], "features": e["features"][:, :1]}
                             for v, e in dataset["All Labels"].items()}
    names = {"glove_vectors": "CMU_MOSI_TimestampedWordVectors.csd", "COVAREP": "CMU_MOSI_COVAREP.csd",
             "FACET 4.2": "CMU_MOSI_Visual_Facet_42.csd", "All Labels": "CMU_MOSI_Opinion_Labels.csd"}
    roots = {"FACET 4.2": "FACET_4.2", "All Labels": "Opinion Segment Labels"}
    segments, _ = load_segments(write_corpus(tmp_path / "mosi", dataset, names, roots), progress=False)
    assert len(segments) > 0 and np.isfinite(segments.labels[:, 0]).all()
    assert np.isnan(segments.labels[:, 1:]).all()


def test_sequences_are_found_by_file_name_when_roots_differ(tmp_path):
    roots = {"glove_vectors": "words", "COVAREP": "acoustic", "FACET 4.2": "visual", "All Labels": "labels"}
    segments, summary = load_segments(write_corpus(tmp_path / "x", roots=roots), progress=False)
    assert len(segments) == summary["segments"] > 0


def test_missing_folder_and_missing_sequence(tmp_path):
    with pytest.raises(MmerError, match="nope: dataset folder not found"):
        load_segments(tmp_path / "nope")
    folder = write_corpus(tmp_path / "m")
    (folder / MOSEI_FILES["COVAREP"]).unlink()
    with pytest.raises(MmerError, match=r"no audio sequence \(looked for root 'COVAREP', CMU_MOSEI_COVAREP.csd"):
        load_segments(folder, progress=False)
    with pytest.raises(MmerError, match="image_feature 'hog'"):
        load_segments(folder, image_feature="hog")


def test_not_hdf5_and_truncated_files(tmp_path):
    folder = write_corpus(tmp_path / "m")
    (folder / "notes.csd").write_text("not hdf5")
    with pytest.raises(MmerError, match="notes.csd: not a readable HDF5"):
        load_segments(folder, progress=False)
    (folder / "notes.csd").unlink()
    target = folder / MOSEI_FILES["COVAREP"]
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    with pytest.raises(MmerError, match="CMU_MOSEI_COVAREP.csd"):
        load_segments(folder, progress=False)


def test_length_mismatch_and_dims_between_videos(tmp_path):
    folder = write_corpus(tmp_path / "m")
    with h5py.File(folder / MOSEI_FILES["COVAREP"], "a") as handle:
        del handle["COVAREP/data/v01x/features"]
        handle["COVAREP/data/v01x/features"] = np.zeros((3, 4), np.float32)
    with pytest.raises(MmerError, match=r"video 'v01x': 3 feature rows but \d+ intervals"):
        load_segments(folder, progress=False)
    folder = write_corpus(tmp_path / "d")
    with h5py.File(folder / MOSEI_FILES["FACET 4.2"], "a") as handle:
        rows = handle["FACET 4.2/data/v03x/intervals"].shape[0]
        del handle["FACET 4.2/data/v03x/features"]
        handle["FACET 4.2/data/v03x/features"] = np.zeros((rows, 9), np.float32)
    with pytest.raises(MmerError, match=r"'FACET 4.2', video 'v03x' has feature dims \(9,\)"):
        load_segments(folder, progress=False)


# ------------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------------


def run_cli(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "mmer_tf", "align", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=120)


def test_cli_aligns_a_dataset_and_the_output_reads_back(tmp_path):
    folder = write_corpus(tmp_path / "in")
    result = run_cli(folder, tmp_path / "out", "--reference", "glove_vectors", "--labels", "All Labels")
    assert result.returncode == 0, result.stderr
    assert "videos: 4 aligned of 5" in result.stdout and "dropped 1 videos (missing in COVAREP), e.g. v02x" in result.stdout
    segments, _ = load_segments(folder, progress=False)
    out = {name: CsdReader(tmp_path / "out" / file) for name, file in MOSEI_FILES.items()}
    assert sorted(out["All Labels"].video_ids()) == sorted(segments.ids)
    assert f"segments: {len(segments)}" in result.stdout
    index = {sid: i for i, sid in enumerate(segments.ids)}
    for name, modality in (("glove_vectors", "text"), ("COVAREP", "audio"), ("FACET 4.2", "vision")):
        assert out[name].name == name
        for sid in segments.ids[:5]:
            _, features = out[name].read(sid)
            np.testing.assert_array_equal(features, segments.features[modality][index[sid]])


def test_cli_bad_input_is_one_line_and_leaves_no_output(tmp_path):
    folder = write_corpus(tmp_path / "in")
    result = run_cli(folder, tmp_path / "out", "--reference", "words")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: --reference 'words': unknown sequence name")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    with h5py.File(folder / MOSEI_FILES["COVAREP"], "a") as handle:
        del handle["COVAREP/data/v04x/features"]
        handle["COVAREP/data/v04x/features"] = np.zeros((2, 4), np.float32)
    result = run_cli(folder, tmp_path / "out2", "--collapse", "none", "--quiet")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "video 'v04x': 2 feature rows" in result.stderr
    assert list((tmp_path / "out2").iterdir()) == []


# ------------------------------------------------------------------------------------------------
# The align CLI never touches its inputs, and never skips one silently
# ------------------------------------------------------------------------------------------------


def _contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_cli_refuses_an_output_that_would_overwrite_an_input(tmp_path):
    folder = write_corpus(tmp_path / "in")
    before = _contents(folder)
    linked = tmp_path / "linked"
    linked.mkdir()
    for path in folder.iterdir():
        (linked / path.name).symlink_to(path)  # inputs reached through links: outputs would land on them
    hard = tmp_path / "hard"
    hard.mkdir()
    os.link(folder / MOSEI_FILES["COVAREP"], hard / MOSEI_FILES["COVAREP"])
    for out in (folder, Path(str(folder) + "/"), folder / ".." / "in", linked, hard):
        source = linked if out == linked else folder
        result = run_cli(source, out, "--labels", "All Labels", "--quiet")
        assert result.returncode == 2, (out, result.stdout)
        line = result.stderr.strip()
        assert "\n" not in line and "would overwrite the input" in line, line
    run_cli(folder, folder, "--collapse", "none", "--quiet")
    assert _contents(folder) == before  # not a byte changed, no file added
    sub = folder / "aligned"  # inside the input folder, no name collision: allowed
    assert run_cli(folder, sub, "--quiet").returncode == 0
    assert sorted(p.name for p in sub.iterdir()) == sorted(MOSEI_FILES.values())
    assert _contents(folder) == before


def test_cli_names_a_dangling_link_or_a_folder_named_csd_instead_of_skipping_it(tmp_path):
    folder = write_corpus(tmp_path / "in")
    (folder / "CMU_MOSEI_OpenFace.csd").symlink_to(tmp_path / "gone.csd")
    result = run_cli(folder, tmp_path / "out", "--quiet")
    assert result.returncode == 2 and "CMU_MOSEI_OpenFace.csd: dangling symbolic link" in result.stderr
    assert result.stderr.count("\n") == 1 and not (tmp_path / "out").exists()
    (folder / "CMU_MOSEI_OpenFace.csd").unlink()
    (folder / "extra.csd").mkdir()
    result = run_cli(folder, tmp_path / "out", "--quiet")
    assert result.returncode == 2 and "extra.csd: is a folder" in result.stderr
    with pytest.raises(MmerError, match="extra.csd"):  # the adapter too
        load_segments(folder, progress=False)


def test_cli_empty_inputs_and_an_empty_result_write_nothing_and_name_the_cause(tmp_path):
    folder = write_corpus(tmp_path / "in")
    write_csd(folder / "empty.csd", "empty", [])
    result = run_cli(folder, tmp_path / "out", "--quiet")
    assert result.returncode == 2 and "sequence 'empty' holds no videos" in result.stderr
    assert result.stderr.count("\n") == 1 and not (tmp_path / "out").exists()
    (folder / "empty.csd").unlink()
    # no video of the labels is in COVAREP: nothing survives, and the message says why
    dataset = scaled_dataset(0)
    dataset["All Labels"] = {f"other{i}": e for i, e in enumerate(dataset["All Labels"].values())}
    other = write_corpus(tmp_path / "disjoint", dataset)
    result = run_cli(other, tmp_path / "out2", "--labels", "All Labels", "--quiet")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "no segment survived alignment" in result.stderr and "missing in All Labels" in result.stderr
    assert not any((tmp_path / "out2").iterdir())
    with pytest.raises(MmerError, match="no segment survived alignment.*missing in All Labels"):
        load_segments(other, progress=False)


def test_parallel_and_in_process_writers_write_the_same_files_the_sdk_reads(tmp_path):
    folder = write_corpus(tmp_path / "in")
    for jobs in ("0", "3"):
        assert run_cli(folder, tmp_path / jobs, "--labels", "All Labels", "--quiet", "--jobs", jobs).returncode == 0
    for file in MOSEI_FILES.values():
        with CsdReader(tmp_path / "0" / file) as a, CsdReader(tmp_path / "3" / file) as b:
            assert a.name == b.name and a.video_ids() == b.video_ids() and a.metadata == b.metadata
            for key in a.video_ids():
                for x, y in zip(a.read(key), b.read(key)):
                    np.testing.assert_array_equal(x, y)
                    assert x.dtype == y.dtype


# ------------------------------------------------------------------------------------------------
# Labels: one truth for training and metrics
# ------------------------------------------------------------------------------------------------


def _with_labels(tmp_path, edit) -> Path:
    dataset = scaled_dataset(0)
    labels = dataset["All Labels"]
    edit(labels)
    return write_corpus(tmp_path / "m", dataset)


def test_nan_and_inf_labels_are_set_to_zero_counted_and_logged(tmp_path, caplog):
    def edit(labels):
        labels["v00x"]["features"][0, 2] = np.nan
        labels["v01x"]["features"][1, 0] = np.inf
        labels["v03x"]["features"][0, :] = np.nan

    folder = _with_labels(tmp_path, edit)
    with caplog.at_level("WARNING"):
        segments, summary = load_segments(folder, progress=False)
    assert np.isfinite(segments.labels).all()
    cleaned = summary["cleaned"]["segments (NaN or inf label values set to 0)"]
    index = {sid: i for i, sid in enumerate(segments.ids)}
    expected = ["v00x[0]", "v01x[1]", "v03x[0]"]
    assert cleaned == 3 and set(expected) <= set(index)
    for sid in expected:
        assert 0.0 in segments.labels[index[sid]]
    assert segments.labels[index["v03x[0]"]].tolist() == [0.0] * 7  # the seed's nan_to_num of a NaN row
    assert "NaN or inf label values" in caplog.text
    from mmer_tf.data.align import format_drop_summary

    assert any(line.startswith(f"cleaned {cleaned} segments (NaN or inf") for line in format_drop_summary(summary))


@pytest.mark.parametrize("column, value, name", [(2, 5.0, "sad"), (4, -1.0, "surprise"), (0, 3.5, "sentiment")])
def test_scores_off_their_scale_are_refused_naming_the_file_and_video(tmp_path, column, value, name):
    def edit(labels):
        labels["v01x"]["features"][0, column] = value

    folder = _with_labels(tmp_path, edit)
    with pytest.raises(MmerError) as error:
        load_segments(folder, progress=False)
    message = str(error.value)
    assert message.startswith(str(folder / MOSEI_FILES["All Labels"])) and "video 'v01x'" in message
    assert f"{name} score {value:g} is not in" in message and "\n" not in message


def test_a_labels_sequence_with_six_columns_is_one_line_naming_the_file(tmp_path):
    dataset = scaled_dataset(0)
    dataset["All Labels"] = {v: {"intervals": e["intervals"], "features": e["features"][:, :6]}
                             for v, e in dataset["All Labels"].items()}
    folder = write_corpus(tmp_path / "m", dataset)
    with pytest.raises(MmerError, match=r"CMU_MOSEI_Labels\.csd: label sequence 'All Labels' has 6 columns"):
        load_segments(folder, progress=False)


def test_the_runner_and_the_align_cli_report_the_same_drops(tmp_path):
    """main.py logs format_drop_summary(load summary); the CLI prints the same lines for the same folder."""
    from mmer_tf.data.align import format_drop_summary

    folder = write_corpus(tmp_path / "in")
    _, summary = load_segments(folder, progress=False)
    result = run_cli(folder, tmp_path / "out", "--labels", "All Labels", "--quiet")
    assert result.returncode == 0, result.stderr
    printed = [line for line in result.stdout.splitlines() if line.split(" ", 1)[0] in
               ("dropped", "cleaned", "skipped", "imputed")]
    assert printed and printed == format_drop_summary(summary)
