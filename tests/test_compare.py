"""``python -m mmer_tf compare``: golden rankings of hand-made tables, grouping, plot/CSV outputs, errors."""

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from mmer_tf import compare, results
from mmer_tf.cli import compare as cli_compare
from mmer_tf.results import store

REPO = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

TABLES = {
    "ef/csv/model_ids.csv": """run_id,dataset,status,host,model_name,num_nodes,seed
1,mosei,ok,h1,ef,50,1
2,mosei,ok,h2,ef,50,2
3,mosei,ok,h1,ef,100,1
4,mosei,ok,h1,ef,100,2
""",
    # run 5 has metrics but no model_ids row (its writer died before the commit record): invisible
    "ef/csv/classification_dominant.csv": """run_id,f1_macro,roc_auc_fear
1,0.40,0.6
2,0.50,0.7
3,0.70,0.5
4,0.30,0.9
5,0.99,0.99
""",
    "ef/csv/regression.csv": """run_id,mae,mse_happy
1,0.8,0.1
2,0.6,0.2
3,0.7,0.3
4,0.9,0.4
""",
    "tfn/csv/model_ids.csv": """run_id,dataset,status,host,model_name,num_nodes,seed
1,mosei,ok,h3,tfn,50,1
2,mosei,ok,h3,tfn,50,2
""",
    "tfn/csv/classification_dominant.csv": """run_id,f1_macro
1,0.60
2,0.20
""",
    "tfn/csv/classification_presence.csv": """run_id,threshold,f1_macro
1,0.0,0.3
1,0.5,0.8
2,0.0,0.5
2,0.5,0.1
""",
}


@pytest.fixture
def models(tmp_path):
    root = tmp_path / "models"
    for name, text in TABLES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def ranked_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def run_compare(capsys, *argv):
    code = cli_compare.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_runs_ranked_by_f1_macro_descending(models, tmp_path, capsys):
    code, out, err = run_compare(capsys, models, "--csv", tmp_path / "r.csv")
    assert (code, err) == (0, "")
    rows = ranked_csv(tmp_path / "r.csv")
    assert [(r["rank"], r["model"], r["run_id"], r["f1_macro"]) for r in rows] == [
        ("1", "ef", "3", "0.7"), ("2", "tfn", "1", "0.6"), ("3", "ef", "2", "0.5"),
        ("4", "ef", "1", "0.4"), ("5", "ef", "4", "0.3"), ("6", "tfn", "2", "0.2")]
    lines = out.splitlines()
    assert lines[0] == "dominant: f1_macro (higher is better), 6 rows from 2 table set(s)"
    assert lines[1].split() == ["rank", "model", "run_id", "num_nodes", "seed", "f1_macro"]
    assert lines[2].split() == ["1", "ef", "3", "100", "1", "0.7000"]
    assert len(lines) == 8


def test_errors_rank_ascending_and_missing_values_last(models, tmp_path, capsys):
    run_compare(capsys, models, "--table", "regression", "--csv", tmp_path / "r.csv")
    assert [r["run_id"] for r in ranked_csv(tmp_path / "r.csv")] == ["2", "3", "1", "4"]
    code, out, _ = run_compare(capsys, models, "--metric", "roc_auc_fear", "--top", "3",
                               "--csv", tmp_path / "a.csv")
    assert code == 0 and "(higher is better)" in out
    assert [(r["model"], r["run_id"]) for r in ranked_csv(tmp_path / "a.csv")] == [
        ("ef", "4"), ("ef", "2"), ("ef", "1"), ("ef", "3"), ("tfn", "1"), ("tfn", "2")]
    assert len(out.splitlines()) == 2 + 3  # --top limits the printed rows, not the CSV


def test_grouping_gives_mean_and_sample_std_over_seeds(models, tmp_path, capsys):
    code, out, _ = run_compare(capsys, models, "--by", "model_name,num_nodes", "--csv", tmp_path / "g.csv",
                               "--plot", tmp_path / "g.png")
    assert code == 0
    rows = ranked_csv(tmp_path / "g.csv")
    assert [(r["model_name"], r["num_nodes"], r["n"], r["runs"]) for r in rows] == [
        ("ef", "100", "2", "ef#3 ef#4"), ("ef", "50", "2", "ef#1 ef#2"), ("tfn", "50", "2", "tfn#1 tfn#2")]
    assert [float(r["f1_macro_mean"]) for r in rows] == pytest.approx([0.5, 0.45, 0.4])
    assert [float(r["f1_macro_std"]) for r in rows] == pytest.approx([0.4 / 2 ** 0.5, 0.1 / 2 ** 0.5,
                                                                      0.4 / 2 ** 0.5])
    # 95% t interval of two runs: 0.5 ± t(0.975, 1) · 0.2828 / √2
    assert out.splitlines()[2].split() == ["1", "ef", "100", "2", "0.5000", "±", "0.2828", "[-2.0412,", "3.0412]"]
    assert (tmp_path / "g.png").read_bytes()[:8] == PNG_MAGIC


def test_presence_rows_are_per_threshold_and_groups_keep_thresholds_apart(models, tmp_path, capsys):
    run_compare(capsys, models, "--table", "presence", "--csv", tmp_path / "p.csv", "--plot", tmp_path / "p.png")
    rows = ranked_csv(tmp_path / "p.csv")
    assert [(r["run_id"], r["threshold"], r["f1_macro"]) for r in rows] == [
        ("1", "0.5", "0.8"), ("2", "0.0", "0.5"), ("1", "0.0", "0.3"), ("2", "0.5", "0.1")]
    assert (tmp_path / "p.png").read_bytes()[:8] == PNG_MAGIC
    run_compare(capsys, models, "--table", "presence", "--by", "model_name", "--csv", tmp_path / "pg.csv")
    grouped = ranked_csv(tmp_path / "pg.csv")
    assert [(r["threshold"], float(r["f1_macro_mean"])) for r in grouped] == [("0.5", 0.45), ("0.0", 0.4)]


def test_a_folder_the_reader_cannot_lock_is_read_unlocked(models, tmp_path, capsys, monkeypatch):
    def read_only(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self.lock_file))

    monkeypatch.setattr(store.filelock.FileLock, "acquire", read_only)
    code, out, _ = run_compare(capsys, models, "--top", "1")
    assert code == 0 and out.splitlines()[2].split()[:3] == ["1", "ef", "3"]


def test_prefixed_table_sets_and_several_folders(models, tmp_path, capsys):
    other = tmp_path / "cluster2"
    (other / "ef" / "csv").mkdir(parents=True)
    (other / "ef" / "csv" / "exp1_model_ids.csv").write_text("run_id,model_name,seed\n1,ef,9\n")
    (other / "ef" / "csv" / "exp1_classification_dominant.csv").write_text("run_id,f1_macro\n1,0.65\n")
    code, _, _ = run_compare(capsys, models, other, "--top", "2", "--csv", tmp_path / "s.csv")
    assert code == 0
    assert [(r["model"], r["run_id"]) for r in ranked_csv(tmp_path / "s.csv")][:3] == [
        (f"{models}/ef", "3"), (f"{other}/ef:exp1", "1"), (f"{models}/tfn", "1")]
    assert [s.label for s in compare.find_table_sets([other / "ef"])] == ["ef:exp1"]
    assert [s.label for s in compare.find_table_sets([other / "ef" / "csv"])] == ["ef:exp1"]


def test_tables_written_by_write_run_are_compared(tmp_path, capsys):
    for seed, f1 in ((1, 0.25), (2, 0.75)):
        paths = results.RunPaths(tmp_path / "m" / "lstm", tmp_path / "m" / "lstm" / "csv", "p")
        run_id = results.reserve_run_id(paths.csv_dir)
        results.write_run(paths, run_id, {"model_name": "lstm", "seed": seed},
                          {"classification_dominant": {"f1_macro": f1}}, 0.0, 2.0)
    code, out, _ = run_compare(capsys, tmp_path / "m")
    assert code == 0
    assert [line.split() for line in out.splitlines()[2:]] == [["1", "lstm", "2", "2", "0.7500"],
                                                              ["2", "lstm", "1", "1", "0.2500"]]


@pytest.mark.parametrize("argv, expected", [
    (["--metric", "nope"], "error: --metric nope: not in the dominant table; available: f1_macro, roc_auc_fear\n"),
    (["--by", "seed,colour"], "error: --by colour: no such column; available: model, dataset, model_name, "
                              "num_nodes, seed\n"),
    (["--table", "coarse"], "no classification_score_coarse.csv next to the 2 model_ids.csv table(s) found\n"),
    (["--top", "0"], "error: --top 0: must be at least 1\n"),
])
def test_user_errors_are_one_line(models, capsys, argv, expected):
    code, out, err = run_compare(capsys, models, *argv)
    assert code == 1 and out == ""
    assert err.endswith(expected) and err.count("\n") == 1 and err.startswith("error: ")


def test_missing_or_empty_folders_are_one_line_errors(tmp_path, capsys):
    assert run_compare(capsys, tmp_path / "absent")[2] == f"error: {tmp_path / 'absent'}: no such folder\n"
    assert run_compare(capsys, tmp_path)[2] == f"error: {tmp_path}: no result tables (*model_ids.csv) found\n"


def test_command_line_entry_point(models, tmp_path):
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    ok = subprocess.run([sys.executable, "-m", "mmer_tf", "compare", str(models), "--top", "1"],
                        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert ok.returncode == 0 and ok.stdout.splitlines()[2].split()[:3] == ["1", "ef", "3"]
    bad = subprocess.run([sys.executable, "-m", "mmer_tf", "compare", str(models), "--metric", "x"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.startswith("error: --metric x:") and bad.stderr.count("\n") == 1
