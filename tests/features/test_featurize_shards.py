"""A job array featurizes one corpus into one folder: ``featurize --shard I/N`` tasks, merged by the last.

The oracle is the unsharded run: the sharded folder's ``.csd`` files and ``clips.csv`` must be byte for byte
the ones a single run writes (same folder name, so the files' metadata match too), with an unreadable clip
skipped and named the same way whichever shard met it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import media_support as ms
from mmer_tf.errors import MmerError
from mmer_tf.features import Clip, Recipe, featurize

ROOT = Path(__file__).resolve().parents[2]
AUDIO_ONLY = Recipe(text="none", video="none")

pytestmark = pytest.mark.skipif(not ms.have_espeak(), reason="espeak-ng is not installed")


def _bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.csd")) + sorted(folder.glob("clips.csv"))}


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("shard_media")
    out = [Clip(f"utt{i}", ms.speech(text, root / f"s{i}.wav", pitch=30 + 10 * i), text)
           for i, text in enumerate(["Kids are talking", "Dogs are sitting", "Leave me alone", "What a day", "Fine"])]
    bad = root / "bad.mp4"
    bad.write_bytes(b"\x00" * 300)
    return out + [Clip("bad", bad, "broken")]


def test_shards_in_any_order_write_the_single_runs_folder(clips, tmp_path):
    whole = featurize(clips, tmp_path / "one" / "feats", AUDIO_ONLY, progress=False)
    out = tmp_path / "sharded" / "feats"
    first = featurize(clips, out, AUDIO_ONLY, progress=False, shard=(2, 3))
    assert first["merged"] is False and first["pending_shards"] == [0, 1] and first["clips"] == 2
    assert not list(out.glob("*.csd"))  # nothing published before every shard is done
    second = featurize(clips, out, AUDIO_ONLY, progress=False, shard=(0, 3))
    assert second["pending_shards"] == [1] and second["computed"] == 2
    last = featurize(clips, out, AUDIO_ONLY, progress=False, shard=(1, 3))
    assert last["merged"] is True and last["done"] == whole["done"] == 5
    assert [s["id"] for s in last["skipped"]] == ["bad"] and last["skipped"][0]["reason"]
    assert _bytes(out) == _bytes(tmp_path / "one" / "feats") and "audio.csd" in _bytes(out)
    assert not (out / ".parts" / AUDIO_ONLY.fingerprint() / "shards" / "merge.lock").exists()


def test_a_plain_run_merges_what_the_shards_left_and_another_clip_list_is_not_mixed_in(clips, tmp_path):
    out = tmp_path / "feats"
    featurize(clips, out, AUDIO_ONLY, progress=False, shard=(0, 2))
    featurize(clips[:4], out, AUDIO_ONLY, progress=False, shard=(1, 2))  # another list: not shard 1 of these clips
    assert not list(out.glob("*.csd"))
    merged = featurize(clips, out, AUDIO_ONLY, progress=False)  # the merge by hand: reuses every part
    assert merged["reused"] == 5 and merged["computed"] == 0 and merged["skipped_count"] == 1  # (utt1, utt3: the
    featurize(clips, tmp_path / "one" / "feats", AUDIO_ONLY, progress=False)     # other list's shard computed them)
    assert _bytes(out) == _bytes(tmp_path / "one" / "feats") and "audio.csd" in _bytes(out)


def test_a_held_merge_lock_leaves_the_merge_to_its_holder(clips, tmp_path):
    out = tmp_path / "feats"
    featurize(clips, out, AUDIO_ONLY, progress=False, shard=(0, 2))
    lock = out / ".parts" / AUDIO_ONLY.fingerprint() / "shards" / "merge.lock"
    lock.touch()  # another task, finishing at the same moment, is merging
    result = featurize(clips, out, AUDIO_ONLY, progress=False, shard=(1, 2))
    assert result["merged"] is False and result["pending_shards"] == [] and not (out / "audio.csd").exists()


@pytest.mark.parametrize("shard", [(2, 2), (-1, 2), (0, 0)])
def test_bad_shard_is_refused(clips, tmp_path, shard):
    with pytest.raises(MmerError, match="--shard"):
        featurize(clips, tmp_path / "feats", AUDIO_ONLY, progress=False, shard=shard)


@pytest.mark.slow
def test_a_job_array_of_two_shards_gives_the_single_runs_ravdess_folder(tmp_path):
    """``run_cluster.sh --featurize --local 2``: the two shard processes a 2-task job array runs, started together
    (the lock decides who merges), default recipe, an unreadable clip among them; then bad --shard values."""
    from raw_media_support import make_ravdess

    source = make_ravdess(tmp_path / "RAVDESS", actors=(1, 2), statements=(1,), repetitions=(1,))
    shutil.copy(next((source / "Actor_01").glob("*.mp4")), source / "Actor_02" / "01-01-03-01-02-02-02.mp4")
    ms.corrupt(source / "Actor_02" / "01-01-03-01-02-02-02.mp4")
    args = ["--corpus", "ravdess", str(source)]

    single = subprocess.run([sys.executable, "-m", "mmer_tf", "featurize", *args, str(tmp_path / "one" / "feats"),
                             "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr[-2000:]
    out = tmp_path / "array" / "feats"
    array = subprocess.run(["bash", str(ROOT / "run_cluster.sh"), "--featurize", "--local", "2", "--", *args, str(out)],
                           cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert array.returncode == 0, (array.stdout + array.stderr)[-2000:]
    assert "5 clips featurized" in array.stdout and "shard" in array.stdout  # one wrote OUT, the other said why not
    assert _bytes(out) == _bytes(tmp_path / "one" / "feats") and len(_bytes(out)) == 4  # 3 .csd + clips.csv
    marker = json.loads((out / "featurized.json").read_text())
    alone = json.loads((tmp_path / "one" / "feats" / "featurized.json").read_text())
    assert marker["clips"] == alone["clips"] == 5
    assert marker["featurize_summary"]["skipped"] == alone["featurize_summary"]["skipped"] != []
    for shard in ("2/2", "1", "a/b"):
        bad = subprocess.run([sys.executable, "-m", "mmer_tf", "featurize", *args, str(tmp_path / "x"), "--shard", shard],
                             cwd=ROOT, capture_output=True, text=True)
        assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].startswith(f"error: --shard {shard}:")
    none = subprocess.run(["bash", str(ROOT / "run_cluster.sh"), "--featurize", "--", *args, str(out)], cwd=tmp_path,
                          capture_output=True, text=True)
    assert none.returncode == 2 and "needs --array K or --local K" in none.stderr
