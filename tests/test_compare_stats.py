"""``compare --by`` intervals and ``compare --test`` against SciPy; a one-run group's bootstrap from ``-sp``."""

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from mmer_tf import stats
from mmer_tf.cli import compare as cli_compare

REPO = Path(__file__).resolve().parents[1]

TABLES = {
    "ef/csv/model_ids.csv": """run_id,dataset,status,model_name,num_nodes,seed,label_type
1,mosei,ok,ef,50,1,dominant
2,mosei,ok,ef,50,2,dominant
3,mosei,ok,ef,50,3,dominant
4,mosei,ok,ef,100,1,dominant
5,mosei,ok,ef,100,2,dominant
6,mosei,ok,ef,100,3,dominant
7,mosei,ok,ef,200,1,dominant
""",
    "ef/csv/classification_dominant.csv": """run_id,f1_macro
1,0.40
2,0.52
3,0.47
4,0.61
5,0.55
6,0.66
7,0.30
""",
    "tfn/csv/model_ids.csv": """run_id,dataset,status,model_name,num_nodes,seed,label_type
1,mosei,ok,tfn,50,7,dominant
2,mosei,ok,tfn,50,8,dominant
3,mosei,ok,tfn,50,9,dominant
4,mosei,ok,tfn,50,10,dominant
""",
    "tfn/csv/classification_dominant.csv": """run_id,f1_macro
1,0.35
2,0.38
3,0.33
4,0.41
""",
}
EF50, EF100, TFN = [0.40, 0.52, 0.47], [0.61, 0.55, 0.66], [0.35, 0.38, 0.33, 0.41]


@pytest.fixture
def models(tmp_path):
    root = tmp_path / "models"
    for name, text in TABLES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _run(capsys, *argv):
    code = cli_compare.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_groups_carry_sample_std_and_t_interval_in_csv_and_text(models, tmp_path, capsys):
    code, out, err = _run(capsys, models, "--by", "model,num_nodes", "--csv", tmp_path / "g.csv")
    assert (code, err) == (0, "")
    with open(tmp_path / "g.csv", newline="") as handle:
        rows = {(r["model"], r["num_nodes"]): r for r in csv.DictReader(handle)}
    for key, values in {("ef", "100"): EF100, ("ef", "50"): EF50, ("tfn", "50"): TFN}.items():
        low, high = sps.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=sps.sem(values))
        row = rows[key]
        assert float(row["f1_macro_std"]) == pytest.approx(np.std(values, ddof=1))
        assert (float(row["ci_low"]), float(row["ci_high"])) == pytest.approx((low, high))
        assert row["ci"] == "t"
    single = rows[("ef", "200")]
    assert (single["n"], single["ci_low"], single["ci_high"], single["ci"]) == ("1", "", "", "n/a")
    assert "sample std (ddof=1)" in out
    top = out.splitlines()[2]
    low, high = sps.t.interval(0.95, 2, loc=np.mean(EF100), scale=sps.sem(EF100))
    assert top.split()[:3] == ["1", "ef", "100"] and f"[{low:.4f}, {high:.4f}]" in top
    assert out.splitlines()[-2].split()[-1] == "n/a"


def test_same_seeds_are_paired_wilcoxon_and_paired_t(models, capsys):
    code, out, err = _run(capsys, models, "--by", "model,num_nodes", "--test", "ef,100", "ef,50")
    assert (code, err) == (0, "")
    ref_t = sps.ttest_rel(EF100, EF50)
    ci = ref_t.confidence_interval()
    ref_w = sps.wilcoxon(EF100, EF50)
    assert "paired by seed" in out
    lines = {line.split(":")[0]: line for line in out.splitlines()}
    assert f"statistic {ref_t.statistic:.4f}, p-value {ref_t.pvalue:.4g}" in lines["paired t-test"]
    assert f"mean difference ef,100 - ef,50 = {np.mean(EF100) - np.mean(EF50):.4f}" in lines["paired t-test"]
    assert f"[{ci.low:.4f}, {ci.high:.4f}]" in lines["paired t-test"]
    assert f"statistic {ref_w.statistic:.4f}, p-value {ref_w.pvalue:.4g}" in lines["Wilcoxon signed-rank"]


def test_different_seeds_get_welch_by_run_id_sets(models, capsys):
    code, out, err = _run(capsys, models, "--test", "ef#1,ef#2,ef#3", "tfn#1,tfn#2,tfn#3,tfn#4")
    assert (code, err) == (0, "")
    ref = sps.ttest_ind(EF50, TFN, equal_var=False)
    ci = ref.confidence_interval()
    assert "unpaired" in out
    line = [x for x in out.splitlines() if x.startswith("Welch's t-test")][0]
    assert f"statistic {ref.statistic:.4f}, p-value {ref.pvalue:.4g}" in line
    assert f"[{ci.low:.4f}, {ci.high:.4f}]" in line


@pytest.mark.parametrize("argv, message", [
    (["--test", "1,2", "ef#4,ef#5"], "error: --test 1,2: run id 1 is in ef, tfn; write e.g. ef#1\n"),
    (["--test", "ef#1,ef#9", "ef#4"], "error: --test ef#1,ef#9: no run ef#9 in this table\n"),
    (["--by", "model", "--test", "ef", "mult"], "error: --test mult: not a value of --by model (ef; tfn) or run ids"),
    (["--test", "ef#7", "ef#4,ef#5"], "error: --test ef#7 ef#4,ef#5: Welch's t-test needs at least 2 values"),
    (["--test", "ef#1,ef#2", "ef#2,ef#3"], "error: --test ef#1,ef#2 ef#2,ef#3: both sides hold run(s) ef#2\n"),
])
def test_bad_test_arguments_are_one_line_errors(models, capsys, argv, message):
    code, out, err = _run(capsys, models, *argv)
    assert code == 1 and err.startswith(message) and err.count("\n") == 1


def test_one_run_group_gets_a_bootstrap_over_its_saved_test_predictions(tmp_path, capsys):
    rng = np.random.default_rng(0)
    root = tmp_path / "models"
    csv_dir = root / "lf" / "csv"
    csv_dir.mkdir(parents=True)
    model_file = root / "lf" / "model_l_1_run1.keras"
    truth = rng.uniform(-3, 3, size=120)
    predictions = truth + rng.normal(0, 0.8, size=120)
    labels = np.zeros((120, 7), np.float32)
    labels[:, 0] = truth
    names = np.asarray(["sentiment", "happy", "sad", "anger", "surprise", "disgust", "fear"])
    np.savez(root / "lf" / "predictions_l_1_run1.npz", ids=np.asarray([f"v{i}" for i in range(120)]),
             true_labels=labels, predictions=predictions[:, None].astype(np.float32), label_names=names)
    mae = float(np.mean(np.abs(truth - predictions.astype(np.float32))))
    (csv_dir / "model_ids.csv").write_text(
        f"run_id,dataset,model_name,seed,label_type,model_file\n1,x,lf,1,sentiment,{model_file}\n")
    (csv_dir / "sentiment.csv").write_text(f"run_id,mae\n1,{mae:.3f}\n")
    code, out, err = _run(capsys, root, "--table", "sentiment", "--by", "model", "--csv", tmp_path / "s.csv",
                          "--bootstrap", "200")
    assert (code, err) == (0, "")
    with open(tmp_path / "s.csv", newline="") as handle:
        row = next(csv.DictReader(handle))
    truth32, pred32 = labels[:, 0].astype(np.float64), predictions.astype(np.float32).astype(np.float64)
    expected = stats.bootstrap_interval(lambda i: float(np.mean(np.abs(truth32[i] - pred32[i]))), 120,
                                        resamples=200, seed=0)
    assert row["ci"] == "bootstrap"
    assert (float(row["ci_low"]), float(row["ci_high"])) == pytest.approx(expected, abs=1e-9)
    assert float(row["ci_low"]) < mae < float(row["ci_high"])
    assert "(bootstrap)" in out
    code, out, err = _run(capsys, root, "--table", "sentiment", "--by", "model", "--bootstrap", "0")
    assert out.splitlines()[2].split()[-1] == "n/a"


def test_cli_test_in_a_fresh_process(models):
    done = subprocess.run([sys.executable, "-m", "mmer_tf", "compare", str(models), "--by", "model",
                           "--test", "ef", "tfn"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Welch's t-test: statistic" in done.stdout  # ef repeats seeds 1, 2: not a pairing


def test_by_column_missing_from_an_old_table_set(models, capsys):
    (models / "old" / "csv").mkdir(parents=True)
    (models / "old" / "csv" / "model_ids.csv").write_text("run_id,dataset,model_name\n1,mosei,old\n")
    (models / "old" / "csv" / "classification_dominant.csv").write_text("run_id,f1_macro\n1,0.5\n")
    code, out, err = _run(capsys, models, "--by", "num_nodes", "--test", "100", "50")
    assert (code, err) == (0, "")
    assert "Welch's t-test: statistic" in out  # ef,100 seeds 1-3 against ef,50 + tfn,50 seeds 1-3, 7-10


def test_presence_rows_are_tested_at_one_threshold(models, capsys):
    at_half = [0.58, 0.55, 0.57, 0.51, 0.50, 0.54]
    text = "run_id,threshold,f1_macro\n" + "".join(
        f"{r},0.0,{0.3 + 0.01 * r}\n{r},0.5,{at_half[r - 1]}\n" for r in range(1, 7))
    (models / "ef" / "csv" / "classification_presence.csv").write_text(text)
    code, out, err = _run(capsys, models, "--table", "presence", "--test", "ef#1,ef#2,ef#3", "ef#4,ef#5,ef#6")
    assert code == 1 and "rows at several thresholds (0.0, 0.5); choose one with --threshold" in err
    code, out, err = _run(capsys, models, "--table", "presence", "--threshold", "0.5",
                          "--test", "ef#1,ef#2,ef#3", "ef#4,ef#5,ef#6")
    assert (code, err) == (0, "")
    a, b = at_half[:3], at_half[3:]
    ref = sps.ttest_rel(a, b)  # seeds 1, 2, 3 on both sides
    assert f"paired t-test: statistic {ref.statistic:.4f}" in out
    code, out, err = _run(capsys, models, "--table", "presence", "--threshold", "0.7")
    assert code == 1 and err == "error: --threshold 0.7: no rows at that threshold\n"
