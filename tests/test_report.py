"""``python -m mmer_tf report``: one self-contained page from generated tables (current and old layouts,
a robustness evaluation, a search), rendered in headless Chromium and checked not blank."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mmer_tf import plots, report
from mmer_tf.cli import report as cli_report

REPO = Path(__file__).resolve().parents[1]
EMOTIONS = ("happy", "sad", "anger", "surprise", "disgust", "fear")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def models(tmp_path):
    root = tmp_path / "models"
    ef = root / "ef_williams"
    ids = ["run_id,dataset,status,model_name,num_nodes,seed,config_digest,model_file,study,trial,final"]
    dominant = ["run_id,f1_macro,acc," + ",".join(f"f1_{e}" for e in EMOTIONS) + ",test_loss"]
    rng = np.random.default_rng(0)
    for run, (nodes, seed, trial, final) in enumerate([(50, 1, 0, ""), (100, 1, 1, ""), (200, 1, 2, ""),
                                                         (200, 11, 2, 1), (200, 12, 2, 1)], start=1):
        model_file = ef / f"model_l_1_n_{nodes}_run{run}.keras"
        ids.append(f"{run},sample,ok,ef_williams,{nodes},{seed},d{run:015d},{model_file},s1,{trial},{final}")
        per_class = rng.uniform(0.1, 0.8, size=6)
        dominant.append(f"{run},{per_class.mean():.3f},{0.3 + 0.05 * run:.3f},"
                        + ",".join(f"{v:.3f}" for v in per_class) + ",0.5")
        plots.plot_history({"loss": [0.9, 0.6, 0.5], "val_loss": [0.8, 0.7, 0.72]},
                           ef / f"history_l_1_n_{nodes}_run{run}.png", title=f"run {run}")
    _write(ef / "csv" / "model_ids.csv", "\n".join(ids) + "\n")
    _write(ef / "csv" / "classification_dominant.csv", "\n".join(dominant) + "\n")
    # presence (one row per threshold) comes before dominant in the table order
    _write(ef / "csv" / "classification_presence.csv",
           "run_id,threshold,f1_macro\n" + "".join(f"{r},0.0,0.3\n{r},0.5,0.2\n" for r in range(1, 6)))
    # A table set of an early version: no model_file, seed or digest columns, a sentiment table.
    _write(root / "old_lf" / "csv" / "model_ids.csv", "run_id,dataset,model_name\n1,mosi,lf\n2,mosi,lf\n")
    _write(root / "old_lf" / "csv" / "classification_dominant.csv", "run_id,f1_macro\n1,0.41\n2,0.39\n")
    _write(root / "old_lf" / "csv" / "sentiment.csv", "run_id,mae,acc_2\n1,0.9,0.7\n2,0.8,0.72\n")
    # A robustness evaluation of run 3.
    _write(ef / "robustness_summary_l_1_n_200_run3.csv",
           "table,metric,condition,modality,clean,level_0.9,relative_robustness\n"
           "classification_dominant,f1_macro,noise,text,0.5,0.3,0.36\n")
    _write(ef / "robustness_l_1_n_200_run3.csv",
           "condition,modality,level,table,f1_macro\nclean,all,0.0,classification_dominant,0.5\n"
           "missing,text,1.0,classification_dominant,0.21\n")
    from mmer_tf.robustness.plot import plot_robustness

    plot_robustness({("noise", "text"): list(np.linspace(0.5, 0.3, 10))}, ef / "robustness_l_1_n_200_run3.png",
                    metric="f1_macro")
    # A search: three trials, trial 2 chosen by validation, two final seeds (runs 4 and 5).
    _write(ef / "search" / "s1.trials.csv",
           'trial,params,state,value,run_id\n0,"{""num_nodes"": 50}",COMPLETE,0.61,1\n'
           '1,"{""num_nodes"": 100}",COMPLETE,0.58,2\n2,"{""num_nodes"": 200}",COMPLETE,0.66,3\n'
           '3,"{""num_nodes"": 25}",PRUNED,,\n')
    return root


def test_page_has_every_section_and_no_external_reference(models, tmp_path):
    page = report.build([str(models)], top=3)
    for text in ("classification_dominant", "dominant: f1_macro (higher is better)", "Top 3 runs", "Groups by model, num_nodes",
                 "Per class (f1)", "Learning curves, top runs", "Parameters that differ", "Robustness",
                 "Missing modalities", "Study s1", "Chosen by validation:</b> trial 2: num_nodes=200",
                 "Final seeds</b> (dominant table, 2 runs)", "sentiment: mae (lower is better)"):
        assert text in page, text
    # self-contained: every image inline, no script, stylesheet link or remote URL
    assert not re.search(r"""(src|href)=["']?(https?:|//|file:)""", page)
    assert "<script" not in page and "<link" not in page
    assert page.count('src="data:image/png;base64,') >= 6
    # the old table set is ranked with its missing columns empty rather than failing
    assert "old_lf" in page


def test_page_without_searches_or_robustness(models, tmp_path):
    shutil.rmtree(models / "ef_williams" / "search")
    for path in (models / "ef_williams").glob("robustness_*"):
        path.unlink()
    page = report.build([str(models)])
    assert "Study " not in page and 'id="robustness"' not in page and "Top 5 runs" in page


def test_errors_are_one_line(tmp_path, capsys):
    assert cli_report.main([str(tmp_path), "--out", str(tmp_path / "r.html")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no result tables" in err and err.count("\n") == 1
    assert cli_report.main([str(tmp_path / "nope"), "--out", str(tmp_path / "r.html")]) == 1
    assert "no such folder" in capsys.readouterr().err


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.slow
def test_cli_page_renders_in_headless_chromium(models, tmp_path):
    out = tmp_path / "report.html"
    done = subprocess.run([sys.executable, "-m", "mmer_tf", "report", str(models), "--out", str(out)],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {out}")
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium on PATH (Debian package chromium; .ci/run installs it)")
    shot = tmp_path / "shot.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1280,2000",
                    out.resolve().as_uri()], capture_output=True, timeout=180)
    assert shot.is_file(), "chromium wrote no screenshot"
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.int16)
    assert pixels.shape[:2] == (2000, 1280)
    ink = (np.abs(pixels - 255).sum(axis=2) > 60).mean()
    assert ink > 0.03, f"only {ink:.1%} of the page is not white"
    # the section rule / bar colour (#4c72b0) is drawn: styles and inline figures rendered
    accent = (np.abs(pixels - np.array([0x4C, 0x72, 0xB0])).sum(axis=2) < 40).sum()
    assert accent > 500


def test_one_run_group_interval_is_bootstrapped_from_saved_predictions(tmp_path):
    rng = np.random.default_rng(1)
    model_dir = tmp_path / "models" / "lf"
    truth = rng.uniform(-3, 3, size=80)
    labels = np.zeros((80, 7), np.float32)
    labels[:, 0] = truth
    names = np.asarray(["sentiment", *EMOTIONS])
    model_dir.mkdir(parents=True)
    np.savez(model_dir / "predictions_a_run1.npz", ids=np.arange(80).astype(str), true_labels=labels,
             predictions=(truth + rng.normal(0, 1, 80))[:, None].astype(np.float32), label_names=names)
    _write(model_dir / "csv" / "model_ids.csv",
           f"run_id,dataset,model_name,label_type,model_file\n1,x,lf,sentiment,{model_dir / 'model_a_run1.keras'}\n")
    _write(model_dir / "csv" / "sentiment.csv", "run_id,mae\n1,0.8\n")
    assert "(bootstrap)" in report.build([str(tmp_path / "models")], bootstrap=50)
    assert "(bootstrap)" not in report.build([str(tmp_path / "models")], bootstrap=0)
