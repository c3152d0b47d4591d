"""Sweep files -> lines of flags (grids, seeds) and the filter that skips runs already recorded."""

from __future__ import annotations

import csv
import shlex

import pytest

from mmer_tf import sweep
from mmer_tf.cli import sweep as cli_sweep
from mmer_tf.errors import MmerError


def test_grid_expands_every_combination_first_key_slowest():
    lines = sweep.expand_grid({"mn": ["lf_dnn", "tfn"], "-b": [8, 16], "--jit_compile": False,
                               "sample_videos": 24})
    assert lines == [
        "--mn lf_dnn -b 8 --nojit_compile --sample_videos 24",
        "--mn lf_dnn -b 16 --nojit_compile --sample_videos 24",
        "--mn tfn -b 8 --nojit_compile --sample_videos 24",
        "--mn tfn -b 16 --nojit_compile --sample_videos 24",
    ]
    assert sweep.expand_grid({"modalities": "text,audio", "cn": "my run"}) == ["--modalities text,audio --cn 'my run'"]
    with pytest.raises(MmerError, match="empty list"):
        sweep.expand_grid({"b": []})


def test_yaml_list_of_grids_csv_grid_and_flag_lines(tmp_path):
    yaml_file = tmp_path / "s.yaml"
    yaml_file.write_text("- {mn: lf_dnn, d: [0.1, 0.3]}\n- {mn: tfn, sp: true}\n")
    assert sweep.read_sweep(yaml_file) == ["--mn lf_dnn --d 0.1", "--mn lf_dnn --d 0.3", "--mn tfn --sp"]
    csv_file = tmp_path / "s.csv"
    csv_file.write_text("mn,b\nlf_dnn,8\ntfn,16\n,32\n")
    assert sweep.read_sweep(csv_file) == [f"--mn {m} --b {b}" for m in ("lf_dnn", "tfn") for b in (8, 16, 32)]
    text = tmp_path / "s.txt"
    text.write_text("# comment\n-mn lf_dnn -b 8\n\n   \n-mn tfn --cn 'a b'\n")
    assert sweep.read_sweep(text) == ["-mn lf_dnn -b 8", "-mn tfn --cn 'a b'"]


@pytest.mark.parametrize("content, suffix, message", [
    ("", ".txt", "no runs"),
    ("- 3\n", ".yaml", "not a mapping"),
    ("mn: [lf_dnn\n", ".yaml", "not valid YAML"),
    ("mn,b\nlf_dnn,\n", ".csv", "column 'b' has no values"),
    ("-mn 'unclosed\n", ".txt", "cannot split"),
])
def test_bad_sweep_files_are_one_line(tmp_path, content, suffix, message):
    path = tmp_path / f"s{suffix}"
    path.write_text(content)
    with pytest.raises(MmerError, match=message):
        sweep.read_sweep(path)
    with pytest.raises(MmerError, match="not found"):
        sweep.read_sweep(tmp_path / "missing.txt")


def test_seeds_repeat_every_line_and_refuse_a_line_with_its_own_seed():
    assert sweep.with_seeds(["-b 8", "-b 16"], [1, 2]) == ["-b 8 --seed 1", "-b 8 --seed 2",
                                                         "-b 16 --seed 1", "-b 16 --seed 2"]
    assert sweep.with_seeds(["-b 8"], None) == ["-b 8"]
    assert sweep.parse_seeds("1, 2,3") == [1, 2, 3]
    with pytest.raises(MmerError, match="sets --seed"):
        sweep.with_seeds(["-b 8 --seed 4"], [1])
    for bad in ("a,b", "1,1", ""):
        with pytest.raises(MmerError):
            sweep.parse_seeds(bad)


def test_pending_drops_exactly_the_recorded_config_and_seed(tmp_path):
    from mmer_tf.config import parameter_columns
    from mmer_tf.results import RunPaths

    lines = sweep.with_seeds([f"-mn lf_dnn -b 8 -mf {tmp_path}", f"-mn lf_dnn -b 16 -mf {tmp_path}"], [1, 2])
    assert sweep.pending(lines) == lines  # no table yet
    done = sweep.config_of(lines[1])  # -b 8, seed 2
    assert (done.batch_size, done.seed, done.model_folder) == (8, 2, str(tmp_path))
    table = RunPaths.for_config(done).model_ids
    table.parent.mkdir(parents=True)
    with open(table, "w", newline="") as handle:
        writer = csv.DictWriter(handle, ["run_id", "status", "config_digest"])
        writer.writeheader()
        writer.writerow({"run_id": 1, "status": "ok", "config_digest": parameter_columns(done)["config_digest"]})
    assert sweep.pending(lines) == [lines[0], lines[2], lines[3]]
    # The digest changes with any parameter (here the seed), not with where the tables go.
    assert parameter_columns(done.replace(seed=3))["config_digest"] != parameter_columns(done)["config_digest"]
    assert parameter_columns(done.replace(verbose=0))["config_digest"] == parameter_columns(done)["config_digest"]
    with pytest.raises(MmerError, match="sweep line"):
        sweep.config_of("--no_such_flag 3")


def test_cli_prints_lines_and_writes_them_atomically(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text("b: [8, 16]\n")
    assert cli_sweep.main([str(path), "--seeds", "5"]) == 0
    assert capsys.readouterr().out.splitlines() == ["--b 8 --seed 5", "--b 16 --seed 5"]
    out = tmp_path / "lines"
    assert cli_sweep.main([str(path), "--out", str(out)]) == 0
    assert [shlex.split(l) for l in out.read_text().splitlines()] == [["--b", "8"], ["--b", "16"]]
    assert cli_sweep.main([str(tmp_path / "nope.yaml")]) == 2
    assert "error: " in capsys.readouterr().err
