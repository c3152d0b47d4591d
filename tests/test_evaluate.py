"""``python -m mmer_tf evaluate``: a saved model re-scored on its own test fold equals its table row;
robustness conditions, summaries and figure from a fresh process; config recovered without the sidecar."""

import csv
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _cli(*argv, cwd):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "mmer_tf", "evaluate", *map(str, argv)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)


def _read(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _same(a: str, b: str) -> bool:
    if a in ("", "nan") or b in ("", "nan"):
        return a in ("", "nan") and b in ("", "nan")
    return math.isclose(float(a), float(b), rel_tol=0, abs_tol=1e-9)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, sample_cache):
    """One 2-epoch dominant-emotion run on the built-in sample (its model, tables and folder)."""
    from mmer_tf import experiment
    from mmer_tf.config import ExperimentConfig

    root = tmp_path_factory.mktemp("evaluate")
    config = ExperimentConfig(pickle_folder=str(sample_cache), model_folder=str(root / "models"), verbose=0,
                              num_epochs=2, label_type="dominant", final_activ="sigmoid", seed=5)
    result = experiment.run(config)
    return result.paths.best_model(result.run_id), result


def _clean_rows(path):
    return {row["table"]: row for row in _read(path) if row["condition"] == "clean"}


def _assert_equals_table(clean, result):
    for family in ("classification_dominant", "classification_presence"):
        table = _read(result.paths.table(family))
        recorded = [r for r in table if r["run_id"] == str(result.run_id)][0]
        got = clean[family]
        compared = [c for c in recorded if c != "run_id"]
        assert "test_loss" in compared and "f1_macro" in compared
        different = {c: (got.get(c), recorded[c]) for c in compared if not _same(got.get(c, ""), recorded[c])}
        assert not different, different


@pytest.mark.slow
def test_clean_row_equals_the_runs_own_test_row(trained, tmp_path):
    model, result = trained
    out = tmp_path / "clean.csv"
    done = _cli("--model", model, "--out", out, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "clean classification_dominant f1_macro" in done.stdout
    _assert_equals_table(_clean_rows(out), result)


@pytest.mark.slow
def test_config_recovered_from_model_ids_row_without_the_sidecar(trained, tmp_path):
    from mmer_tf import runconfig

    model, result = trained
    copy_dir = tmp_path / "models" / model.parent.name
    (copy_dir / "csv").mkdir(parents=True)
    copy = copy_dir / model.name
    copy.write_bytes(model.read_bytes())
    rows = _read(result.paths.model_ids)
    for row in rows:
        row["model_file"] = str(copy)
    with open(copy_dir / "csv" / "model_ids.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert not runconfig.sidecar_path(copy).exists()
    recovered, row = runconfig.recover(copy)
    original = runconfig.load_config_sidecar(model)
    assert row["run_id"] == str(result.run_id)
    same_fields = ("label_type", "modalities", "seed", "batch_size", "threshold_emo_present", "final_activ",
                   "normalization", "dataset_folder", "num_epochs", "model_hparams")
    assert {f: getattr(recovered, f) for f in same_fields} == {f: getattr(original, f) for f in same_fields}
    out = tmp_path / "rescored.csv"
    done = _cli("--model", copy, "--out", out, "--pickle_folder", original.pickle_folder, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    _assert_equals_table(_clean_rows(out), result)


def test_unknown_model_and_baseline_without_robustness_are_one_line_errors(tmp_path):
    done = _cli("--model", tmp_path / "nope.keras", cwd=tmp_path)
    assert done.returncode == 1 and done.stderr.startswith("error: --model") and done.stderr.count("\n") == 1
    stray = tmp_path / "model_x_run1.keras"
    stray.write_bytes(b"not a model")
    done = _cli("--model", stray, cwd=tmp_path)
    assert done.returncode == 1 and "configuration is unknown" in done.stderr and "Traceback" not in done.stderr
    done = _cli("--model", stray, "--baseline", stray, cwd=tmp_path)
    assert done.returncode == 1 and "add --robustness" in done.stderr
    done = _cli("--model", stray, "--robustness", "--baseline", tmp_path / "gone.keras", cwd=tmp_path)
    assert done.returncode == 1 and done.stderr == f"error: --baseline {tmp_path / 'gone.keras'}: no such model file\n"


@pytest.mark.slow
def test_robustness_curves_summaries_and_figure_against_itself_as_baseline(trained, tmp_path):
    model, result = trained
    out = tmp_path / "robustness_run.csv"
    done = _cli("--model", model, "--robustness", "--baseline", model, "--out", out, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = [r for r in _read(out) if r["table"] == "classification_dominant"]
    # clean + 3 single and 3 pair missing + 3 kinds x (3 modalities + all) x 10 levels
    assert len(rows) == 1 + 6 + 3 * 4 * 10
    clean = rows[0]
    assert (clean["condition"], clean["modality"], clean["level"]) == ("clean", "all", "0.0")
    missing = {r["modality"] for r in rows if r["condition"] == "missing"}
    assert missing == {"text", "audio", "vision", "text+audio", "text+vision", "audio+vision"}
    for r in rows:
        if r["condition"] in ("noise", "drop", "structured_drop") and float(r["level"]) == 0.0:
            assert r["f1_macro"] == clean["f1_macro"]
    heavy = [float(r["f1_macro"]) for r in rows if r["condition"] == "drop" and r["modality"] == "all"]
    assert len(set(heavy)) > 1  # the perturbation reaches the model
    summary = _read(tmp_path / "robustness_summary_run.csv")
    assert len(summary) == 12
    for r in summary:
        assert float(r["effective_robustness"]) == 0.0  # the model is its own baseline
        assert float(r["relative_robustness"]) == pytest.approx(float(r["baseline_relative_robustness"]))
    assert (tmp_path / "robustness_run.png").read_bytes()[:8] == PNG_MAGIC


def test_a_condition_with_non_finite_predictions_gets_empty_metrics_not_an_abort(capsys):
    """evaluate_all on a stand-in scorer whose model breaks when text is masked."""
    import numpy as np

    from mmer_tf import evaluate

    class Scorer:
        modalities = ("text", "audio")
        test = type("Fold", (), {"features": {"text": [np.ones((3, 2))], "audio": [np.ones((3, 2))]},
                                 "aligned": True})()
        feature_std = {"text": np.ones(2), "audio": np.ones(2)}

        def score(self, features=None, missing=()):
            if "text" in missing:
                raise evaluate.NonFinitePredictions("m.keras: 1 non-finite test prediction(s) with text input")
            return {"classification_presence": [{"threshold": 0.5, "f1_macro": 0.7, "test_loss": 0.3}]}

    rows = evaluate.evaluate_all(Scorer(), True, seed=0)
    broken = [r for r in rows if r["condition"] == "missing" and r["modality"] == "text"]
    assert len(broken) == 1 and broken[0]["threshold"] == 0.5 and math.isnan(broken[0]["f1_macro"])
    assert "test_loss" not in broken[0]
    audio = [r for r in rows if r["condition"] == "missing" and r["modality"] == "audio"]
    assert audio[0]["f1_macro"] == 0.7
    assert len(rows) == 1 + 2 + 3 * 3 * 10  # clean, 2 missing, 3 kinds x (2 modalities + all) x 10 levels
    assert "warning: m.keras: 1 non-finite" in capsys.readouterr().err
