"""The documented extension points work from one module each, with no file of the package changed.

``tests/plugins/`` holds a raw-media corpus (``tone_corpus.py``), a feature recipe kind (``zcr_recipe.py``),
a task (``first_class_task.py``) and a model (``pooled_model.py``), each written as the "Extension points"
table of ``docs/ARCHITECTURE.md`` says. Named in ``MMER_PLUGINS``, they appear in every derived list
(``--corpus``, ``-lt``, the model's flags, the recipe help, ``featurize --corpus``, ``compare --table``) and
``main.py`` trains on them together, end to end, in a fresh process.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
PLUGINS = REPO / "tests" / "plugins"
MODULES = ",".join(str(PLUGINS / name) for name in ("tone_corpus.py", "zcr_recipe.py", "first_class_task.py",
                                                    "pooled_model.py"))


def _env(plugins: str = MODULES) -> dict:
    return dict(os.environ, MMER_PLUGINS=plugins, TF_CPP_MIN_LOG_LEVEL="3")


def _tones(root: Path, per_class: int = 12) -> Path:
    """Low (220 Hz) and high (1760 Hz) noisy tones of 0.5-0.8 s; two thirds train, the rest valid/test."""
    import soundfile as sf

    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines = []
    for label, freq in (("low", 220.0), ("high", 1760.0)):
        for i in range(per_class):
            t = np.arange(int(16000 * rng.uniform(0.5, 0.8))) / 16000
            wave = 0.4 * np.sin(2 * np.pi * freq * (1 + 0.03 * rng.standard_normal()) * t)
            wave += 0.02 * rng.standard_normal(len(t))
            sf.write(str(root / f"{label}{i}.wav"), wave.astype(np.float32), 16000)
            split = "train" if i < per_class * 2 // 3 else "valid" if i % 2 else "test"
            lines.append(f"{label}{i}.wav {label} {split}")
    (root / "TONES.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def _run(args, env, cwd=REPO, timeout=300):
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_plugins_appear_in_every_derived_list():
    env = _env()
    helps = _run(["main.py", "--help"], env).stdout
    assert "tones" in helps.split("--corpus")[1].split("--")[0]
    assert "first_class" in helps.split("--label_type")[1].split("--")[0]
    assert "zcr:<ms>" in helps.split("--audio_recipe")[1].split("--")[0]
    assert "--pooled_linear_hidden" in helps  # the model's hyper-parameter flags come from the model registry
    featurize = _run(["-m", "mmer_tf", "featurize", "--help"], env).stdout
    assert "tones" in featurize and "zcr:<ms>" in featurize
    compare = _run(["-m", "mmer_tf", "compare", "--help"], env).stdout
    assert "first_class" in compare
    # without the variable none of them exists: the package itself was not changed
    plain = _run(["main.py", "--help"], _env("")).stdout
    assert "first_class" not in plain and "zcr:" not in plain and "tones" not in plain and "pooled_linear" not in plain


def test_a_plugin_that_does_not_import_is_one_error_line(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('half written')\n", encoding="utf-8")
    result = _run(["main.py", "-e", "1"], _env(f"{MODULES},{broken}"))
    assert result.returncode == 2, result.stderr[-1500:]
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: MMER_PLUGINS: cannot import") and "half written" in lines[-1]
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_plugin_corpus_recipe_task_and_model_train_end_to_end(tmp_path):
    root = _tones(tmp_path / "tones")
    models, cache = tmp_path / "models", tmp_path / "cache"
    result = _run(["main.py", "-df", str(root), "-lt", "first_class", "--audio_recipe", "zcr:50",
                   "--text_recipe", "none", "--video_recipe", "none", "--modalities", "audio", "-mn", "pooled_linear",
                   "-e", "8", "-b", "4", "--seed", "3", "--verbose", "0", "-pf", str(cache), "-mf", str(models)],
                  _env())
    assert result.returncode == 0, result.stderr[-3000:]
    table = models / "pooled_linear" / "csv" / "first_class.csv"
    rows = list(csv.DictReader(table.open(encoding="utf-8")))
    assert len(rows) == 1 and int(rows[0]["n"]) == 4  # 2 test clips per class
    assert float(rows[0]["acc"]) >= 0.75  # low vs high tone: the zero-crossing rate separates them
    featurized = [p for p in cache.iterdir() if p.name.startswith("featurized_tones_")]
    assert len(featurized) == 1 and (featurized[0] / "audio.csd").is_file()
    ranked = _run(["-m", "mmer_tf", "compare", str(models), "--table", "first_class"], _env())
    assert ranked.returncode == 0 and "acc" in ranked.stdout, ranked.stderr[-1500:]
