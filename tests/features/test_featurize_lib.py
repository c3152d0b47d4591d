"""The corpus featurizer: SDK-format output, skipped corrupt files, resume, workers, recipe checks."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

import media_support as ms
from mmer_tf.formats.csd import CsdReader
from mmer_tf.errors import MmerError
from mmer_tf.features import Clip, Recipe, featurize, featurize_clip
from mmer_tf.features import corpus as featurize_module
from mmer_tf.features.media import SAMPLE_RATE, load_audio

pytestmark = pytest.mark.skipif(not ms.have_espeak(), reason="espeak-ng is not installed")

TEXTS = ["I love this so much", "Leave me alone", "What a surprise"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    clips = []
    for i, text in enumerate(TEXTS):
        wav = ms.speech(text, root / f"s{i}.wav", pitch=30 + 20 * i)
        clips.append(Clip(f"dia0_utt{i}", ms.video(root / f"dia0_utt{i}.mp4", 1.0 + 0.2 * i, audio_wav=wav,
                                                   smile=1.0 - i), text))
    clips.append(Clip("audio only 1", ms.speech("Fine", root / "only.wav"), "Fine"))
    bad = root / "dia9_utt9.mp4"
    shutil.copy(clips[0].media, bad)
    ms.corrupt(bad)
    clips.append(Clip("dia9_utt9", bad, "broken"))
    return clips


def read_all(folder):
    out = {}
    for name in ("text", "audio", "vision"):
        path = folder / f"{name}.csd"
        if path.exists():
            with CsdReader(path) as reader:
                out[name] = {vid: reader.read(vid) for vid in reader.video_ids()}
    return out


class CountCalls:
    def __init__(self, fn):
        self.fn, self.ids = fn, []

    def __call__(self, clip, recipe):
        self.ids.append(clip.id)
        return self.fn(clip, recipe)


def test_corpus_to_sdk_csd_with_a_corrupt_file_skipped(corpus, tmp_path, caplog):
    summary = featurize(corpus, tmp_path, Recipe(), progress=False)
    assert summary["clips"] == 5 and summary["done"] == 4 and summary["skipped_count"] == 1
    (skip,) = summary["skipped"]
    assert skip["id"] == "dia9_utt9" and skip["media"].endswith("dia9_utt9.mp4") and skip["reason"]
    assert "dia9_utt9.mp4" in caplog.text  # the log names the file and its reason
    assert summary["missing"] == {"vision": 1}  # the WAV has no picture
    data = read_all(tmp_path)
    assert set(data) == {"text", "audio", "vision"}
    assert set(data["audio"]) == {"dia0_utt0", "dia0_utt1", "dia0_utt2", "audio only 1"}
    assert "audio only 1" not in data["vision"]
    for clip in corpus[:4]:
        duration = len(load_audio(clip.media)) / SAMPLE_RATE
        for modality, seqs in data.items():
            if clip.id not in seqs:
                continue
            intervals, features = seqs[clip.id]
            assert features.dtype == np.float32 and len(features) == len(intervals) > 0
            assert intervals.min() >= 0 and intervals.max() <= duration + 1e-6, (clip.id, modality)
            assert np.all(intervals[:, 1] >= intervals[:, 0])
        assert len(data["text"][clip.id][1]) == len(clip.text.split())
        assert data["audio"][clip.id][1].shape[1] == 64
    # The library's per-clip call (used by predict) gives exactly what was written.
    direct = featurize_clip(corpus[1], Recipe())
    for modality, (intervals, features) in direct.items():
        np.testing.assert_array_equal(features, data[modality]["dia0_utt1"][1])
        np.testing.assert_allclose(intervals, data[modality]["dia0_utt1"][0])
    assert Recipe.from_dict(json.loads((tmp_path / "recipe.json").read_text())) == Recipe()
    with CsdReader(tmp_path / "vision.csd") as reader:
        assert reader.name == "vision" and reader.metadata["alignment compatible"] is True
    assert json.loads((tmp_path / "summary.json").read_text())["skipped_count"] == 1
    with pytest.raises(MmerError, match="dia9_utt9.mp4"):
        featurize_clip(corpus[4], Recipe())


def test_resume_skips_done_clips(corpus, tmp_path, monkeypatch):
    recipe = Recipe(video="none")
    counter = CountCalls(featurize_module.extract)
    monkeypatch.setattr(featurize_module, "extract", counter)
    featurize(corpus[:2], tmp_path, recipe, progress=False)  # an "interrupted" run: two clips done
    assert counter.ids == ["dia0_utt0", "dia0_utt1"]
    counter.ids.clear()
    summary = featurize(corpus, tmp_path, recipe, progress=False)
    assert counter.ids == ["dia0_utt2", "audio only 1", "dia9_utt9"]  # the corrupt one is retried
    assert summary["reused"] == 2 and summary["computed"] == 2 and summary["done"] == 4
    first = read_all(tmp_path)
    counter.ids.clear()
    os.utime(corpus[1].media, ns=(1, 1))  # a changed media file is featurized again
    summary = featurize(corpus, tmp_path, recipe, progress=False)
    assert counter.ids == ["dia0_utt1", "dia9_utt9"] and summary["reused"] == 3
    second = read_all(tmp_path)
    for modality in first:
        for vid in first[modality]:
            np.testing.assert_array_equal(first[modality][vid][1], second[modality][vid][1])
    assert set(first) == {"text", "audio"} and not (tmp_path / "vision.csd").exists()
    counter.ids.clear()
    featurize(corpus, tmp_path, Recipe(video="none", text="none"), progress=False)  # another recipe: new parts
    assert len(counter.ids) == 5 and not (tmp_path / "text.csd").exists()


# openSMILE: ~7 s in a not-slow run on the shared machine
@pytest.mark.parametrize("audio", ["logmel", pytest.param("opensmile:eGeMAPSv02", marks=pytest.mark.slow)])
def test_two_workers_write_identical_csd(corpus, tmp_path, audio):
    # With openSMILE, workers=1 runs it in the TF-free helper (this process has TensorFlow loaded) and
    # the spawned workers run it in-process: equal output checks the helper too.
    recipe = Recipe(audio=audio, fps=4.0)
    one = featurize(corpus, tmp_path / "w1", recipe, workers=1, progress=False)
    two = featurize(corpus, tmp_path / "w2", recipe, workers=2, progress=True)
    assert two["done"] == one["done"] == 4 and two["skipped"] == one["skipped"]
    a, b = read_all(tmp_path / "w1"), read_all(tmp_path / "w2")
    assert {m: list(v) for m, v in a.items()} == {m: list(v) for m, v in b.items()}
    for modality in a:
        for vid in a[modality]:
            np.testing.assert_array_equal(a[modality][vid][0], b[modality][vid][0])
            np.testing.assert_allclose(a[modality][vid][1], b[modality][vid][1], rtol=1e-5, atol=1e-5)


def test_bad_inputs_fail_before_any_work(corpus, tmp_path):
    with pytest.raises(MmerError, match="not a SavedModel folder"):
        featurize(corpus, tmp_path, Recipe(text=f"hub:{tmp_path / 'nope'}"), progress=False)
    assert not (tmp_path / ".parts").exists()
    with pytest.raises(MmerError, match="appears more than once"):
        featurize([corpus[0], corpus[0]], tmp_path, Recipe(), progress=False)
    with pytest.raises(MmerError, match="contains '/'"):
        featurize([Clip("a/b", corpus[0].media)], tmp_path, Recipe(), progress=False)
    with pytest.raises(MmerError, match="--workers 0"):
        featurize(corpus, tmp_path, Recipe(), workers=0, progress=False)


def test_workers_do_not_rerun_a_heavy_main_script(corpus, tmp_path):
    """A script like main.py (Keras imported at the top) must not be re-run by each spawned worker."""
    import subprocess
    import sys
    from pathlib import Path

    marker = tmp_path / "imports.log"
    script = tmp_path / "heavy_main.py"
    root = Path(__file__).resolve().parents[2]
    script.write_text(
        "import os, sys\n"
        f"sys.path.insert(0, {str(root)!r})\n"
        f"open({str(marker)!r}, 'a').write(f'{{os.getpid()}}\\n')  # the 'heavy' top level\n"
        "from pathlib import Path\n"
        "from mmer_tf.features import Clip, Recipe, featurize\n"
        "if __name__ == '__main__':\n"
        f"    clips = [Clip(c, Path(m), t) for c, m, t in {[(c.id, str(c.media), c.text) for c in corpus[:2]]!r}]\n"
        f"    s = featurize(clips, Path({str(tmp_path / 'out')!r}), Recipe(video='none'), workers=2, progress=False)\n"
        "    assert s['done'] == 2, s\n")
    subprocess.run([sys.executable, str(script)], check=True, capture_output=True, timeout=120)
    assert len(marker.read_text().split()) == 1  # the parent only
