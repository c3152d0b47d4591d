"""Re-score a saved model on its own test fold, clean and perturbed: ``python -m mmer_tf evaluate``
(:mod:`mmer_tf.cli.evaluate`).

``python -m mmer_tf evaluate --model M.keras [--robustness] [--baseline B.keras] [--out R.csv]``

The run's configuration comes from the config sidecar beside the model, else from its ``model_ids.csv``
row (:mod:`mmer_tf.runconfig`); the folds come through the runner's own data path and caches, so the
test fold is the one the model was tested on and the clean row equals the run's table row.

Writes ``robustness_<run>.csv`` beside the model (``--out`` elsewhere): one row per condition and
metric-table row, with ``condition`` (``clean``, ``missing``, ``noise``, ``drop``, ``structured_drop``),
``modality`` (one modality, a ``+``-joined pair, or ``all``), ``level``, ``table`` and the task's metric
columns (``test_loss`` on the clean rows only: it costs a second pass per condition). With ``--robustness``:

* ``missing``: each modality and each pair zeroed and fully masked (level 1.0);
* ``noise`` / ``drop`` / ``structured_drop`` (:mod:`mmer_tf.robustness.noise`) on each modality and on
  all at once, levels 0.0-0.9, seeded by ``--seed``;
* ``robustness_summary_<run>.csv``: per modality and kind, the curve's relative robustness and, with
  ``--baseline``, its effective robustness against the baseline model's curve on the same conditions
  (:mod:`mmer_tf.robustness.summary`; raw values, not min-max normalised);
* ``robustness_<run>.png``: ``--metric`` against level, one line per modality, the baseline dashed.
"""

from __future__ import annotations

import itertools
import math
import re
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from mmer_tf.errors import MmerError

CONDITIONS = ("clean", "missing", "noise", "drop", "structured_drop")


class NonFinitePredictions(MmerError):
    """The model predicted NaN/inf for some test segments under a condition (e.g. attention over a
    sequence whose steps are all masked): that condition has no score, which is itself a finding."""
_RUN = re.compile(r"^model_(?P<stem>.*)\.keras$")


def output_stem(model_path: Path) -> str:
    """``model_<param>_run<id>.keras`` -> ``<param>_run<id>`` (else the file's stem)."""
    match = _RUN.match(model_path.name)
    return match.group("stem") if match else model_path.stem


class Scorer:
    """One saved model with the test fold it was trained on: scores a (perturbed) copy of that fold."""

    def __init__(self, model_path: str | Path, pickle_folder: str | None = None):
        from mmer_tf import runconfig, tasks
        from mmer_tf.data import dataset

        self.path = Path(model_path)
        if not self.path.is_file():
            raise MmerError(f"--model {model_path}: no such model file")
        config, self.row = runconfig.recover(self.path)
        changes = {"verbose": 0, "display_fig": False}
        if pickle_folder:
            changes["pickle_folder"] = pickle_folder
        self.config = config.replace(**changes)
        opened = dataset.open_corpus(self.config)
        self.task = tasks.check_supported(self.config.label_type,
                                          tasks.LabelSchema(opened[1].label_names, opened[1].classes), opened[1].name)
        folds, info = dataset.load_folds(self.config, progress=False, opened=opened)
        self.schema = tasks.LabelSchema.of(info)
        self.train, self.test = folds["train"], folds["test"]
        self.modalities = tuple(self.config.modalities)
        self.targets = self.task.targets(self.config, self.test.labels, self.schema)
        from mmer_tf import train

        self.model = train.load_model(self.path)
        self._std = None

    @property
    def feature_std(self) -> dict[str, np.ndarray]:
        from mmer_tf.robustness.noise import feature_std

        if self._std is None:
            self._std = {m: feature_std(self.train.features[m]) for m in self.modalities}
        return self._std

    def score(self, features: dict | None = None, missing: Sequence[str] = ()) -> dict[str, list[dict]]:
        """The task's metric rows for the test fold with ``features`` replaced and ``missing`` zeroed+masked."""
        from mmer_tf.data import pipeline
        from mmer_tf.data.segments import SegmentSet

        test = self.test
        if features is not None:
            test = SegmentSet(list(test.ids), features, test.labels, aligned=test.aligned, info=test.info)
        ds = pipeline.make_dataset(test, self.targets, shuffle=False, seed=self.config.seed,
                                   batch_size=self.config.batch_size, fixed_steps=self.config.fixed_num_steps,
                                   modalities=self.modalities)
        if missing:
            import tensorflow as tf

            gone = tuple(missing)

            def blank(inputs, targets):
                inputs = dict(inputs)
                for m in gone:
                    inputs[m] = tf.zeros_like(inputs[m])
                    inputs[f"{m}_mask"] = tf.zeros_like(inputs[f"{m}_mask"])
                return inputs, targets

            ds = ds.map(blank)
        predictions = np.asarray(self.model.predict(ds, verbose=0), dtype=np.float32)
        if not np.all(np.isfinite(predictions)):
            bad = int((~np.isfinite(predictions)).any(axis=1).sum())
            raise NonFinitePredictions(f"{self.path.name}: {bad} non-finite test prediction(s) with "
                                       f"{'+'.join(missing) or 'perturbed'} input")
        families = self.task.evaluate(self.config, self.test.labels, predictions, self.schema)
        if features is None and not missing:  # the run's own test_loss; not re-computed per condition
            loss = float(self.model.evaluate(ds, verbose=0, return_dict=True)["loss"])
            for rows in families.values():
                for row in rows:
                    row["test_loss"] = round(loss, self.config.round_decimals)
        return families


def _rows(condition: str, modality: str, level: float, families: dict[str, list[dict]]) -> list[dict]:
    return [{"condition": condition, "modality": modality, "level": level, "table": family, **row}
            for family, rows in families.items() for row in rows]


def conditions(modalities: Sequence[str], robustness: bool) -> list[tuple[str, str, float]]:
    """Every (condition, modality, level) evaluated, in output order."""
    from mmer_tf.robustness.noise import KINDS, LEVELS

    out = [("clean", "all", 0.0)]
    if not robustness:
        return out
    subsets = [(m,) for m in modalities] + list(itertools.combinations(modalities, 2))
    out += [("missing", "+".join(s), 1.0) for s in subsets if len(s) < len(modalities)]
    targets = list(modalities) + (["all"] if len(modalities) > 1 else [])
    out += [(kind, target, level) for kind in KINDS for target in targets for level in LEVELS]
    return out


def evaluate_all(scorer: Scorer, robustness: bool, seed: int, progress=None) -> list[dict]:
    """Rows for every condition of :func:`conditions` (level-0 noise rows re-use the clean score).

    A condition under which the model predicts non-finite values gets its rows with every metric empty
    (NaN) and a warning on stderr; non-finite clean predictions are an error.
    """
    import math

    from mmer_tf.robustness.noise import perturb

    rows: list[dict] = []
    clean = None
    todo = conditions(scorer.modalities, robustness)
    for i, (condition, modality, level) in enumerate(todo):
        if progress:
            progress(i, len(todo), condition, modality, level)
        if condition == "clean" or level == 0.0 and condition != "missing":
            clean = clean or scorer.score()
            families = clean
        else:
            try:
                if condition == "missing":
                    families = scorer.score(missing=modality.split("+"))
                else:
                    targets = scorer.modalities if modality == "all" else (modality,)
                    features = perturb(scorer.test.features, condition, targets, level, scorer.feature_std,
                                       seed, scorer.test.aligned)
                    families = scorer.score(features)
            except NonFinitePredictions as exc:
                print(f"warning: {exc} ({condition} {modality} {level}); its metrics are left empty",
                      file=sys.stderr)
                families = {family: [{k: (v if k == "threshold" else math.nan) for k, v in row.items()
                                      if k != "test_loss"} for row in family_rows]
                            for family, family_rows in clean.items()}
        rows += _rows(condition, modality, level, families)
    return rows


def default_metric(scorer: Scorer) -> tuple[str, str]:
    """(table, metric) of the figure and summaries: the task's first table and compare's default metric."""
    from mmer_tf.compare import DEFAULT_METRIC
    from mmer_tf.results import TABLE_FILES

    family = scorer.task.tables(scorer.config)[-1 if scorer.config.label_type in ("present", "dominant") else 0]
    short = next((k for k, v in TABLE_FILES.items() if v == f"{family}.csv"), family)
    return family, DEFAULT_METRIC.get(short, "f1_macro")


def curves(frame, table: str, metric: str) -> dict[tuple[str, str], list[float]]:
    """{(kind, modality): metric per level} from a robustness frame (first threshold of a presence table)."""
    from mmer_tf.robustness.noise import KINDS

    part = frame[frame["table"] == table]
    if "threshold" in part.columns and part["threshold"].notna().any():
        part = part[part["threshold"] == part["threshold"].dropna().iloc[0]]
    out = {}
    for (kind, modality), group in part[part["condition"].isin(KINDS)].groupby(["condition", "modality"], sort=False):
        out[(kind, modality)] = group.sort_values("level")[metric].astype(float).tolist()
    return out


def summarize(model_curves, baseline_curves=None) -> list[dict]:
    from mmer_tf.robustness.noise import LEVELS
    from mmer_tf.robustness.summary import effective_robustness, relative_robustness

    rows = []
    for (kind, modality), curve in model_curves.items():
        row = {"condition": kind, "modality": modality, "clean": curve[0], f"level_{LEVELS[len(curve) - 1]}": curve[-1],
               "relative_robustness": relative_robustness(curve)}
        if baseline_curves is not None:
            base = baseline_curves.get((kind, modality))
            row["baseline_relative_robustness"] = relative_robustness(base) if base else math.nan
            row["effective_robustness"] = effective_robustness(curve, base) if base else math.nan
        rows.append(row)
    return rows


def evaluate_model(model: str | Path, *, robustness: bool = False, baseline: str | None = None, seed: int = 0,
                   metric: str | None = None, out: str | Path | None = None, pickle_folder: str | None = None) -> int:
    """What ``python -m mmer_tf evaluate`` does (the flags are its arguments): score, write, print; 0 when done."""
    import pandas as pd

    from mmer_tf.fileio import atomic_write_text

    if baseline and not robustness:
        raise MmerError("--baseline: compares robustness curves; add --robustness")
    if seed < 0:
        raise MmerError(f"--seed {seed}: must be >= 0")
    model_path = Path(model)
    stem = output_stem(model_path)
    out = Path(out) if out else model_path.parent / f"robustness_{stem}.csv"
    if baseline and not Path(baseline).is_file():
        raise MmerError(f"--baseline {baseline}: no such model file")
    scorer = Scorer(model_path, pickle_folder)
    if metric:  # refused before the long evaluation, not after it
        names = {k for rows in scorer.score().values() for row in rows for k in row} - {"threshold"}
        if metric not in names:
            raise MmerError(f"--metric {metric}: not a metric of this task; available: "
                            f"{', '.join(sorted(names))}")
    frame = pd.DataFrame.from_records(evaluate_all(scorer, robustness, seed))
    atomic_write_text(out, frame.to_csv(index=False))
    table, default = default_metric(scorer)
    metric = metric or default
    if metric not in frame.columns:
        raise MmerError(f"--metric {metric}: not a metric of this task; available: "
                        f"{', '.join(c for c in frame.columns if c not in ('condition', 'modality', 'level', 'table'))}")
    clean = frame[(frame["condition"] == "clean") & (frame["table"] == table)]
    print(f"{model_path.name}: clean {table} {metric} = {clean[metric].iloc[0]} ({len(scorer.test)} test segments)")
    print(f"wrote {out} ({len(frame)} rows)")
    if not robustness:
        return 0
    model_curves = curves(frame, table, metric)
    baseline_curves = None
    if baseline:
        base = Scorer(baseline, pickle_folder)
        if list(base.test.ids) != list(scorer.test.ids):
            raise MmerError(f"--baseline {baseline}: tested on other segments than --model; "
                            "robustness curves compare only on the same test fold")
        if base.modalities != scorer.modalities:
            raise MmerError(f"--baseline {baseline}: uses modalities {','.join(base.modalities)}, "
                            f"--model {','.join(scorer.modalities)}; the conditions would differ")
        base_frame = pd.DataFrame.from_records(evaluate_all(base, True, seed))
        baseline_curves = curves(base_frame, table, metric)
    summary = pd.DataFrame.from_records(summarize(model_curves, baseline_curves))
    numeric = summary.select_dtypes("number").columns
    # Sums of differences of 3-decimal metrics: round away float noise (and a "-0.0").
    summary[numeric] = summary[numeric].round(6) + 0.0
    summary.insert(0, "metric", metric)
    summary.insert(0, "table", table)
    summary_path = out.with_name(out.name.replace("robustness_", "robustness_summary_", 1)
                                 if out.name.startswith("robustness_") else f"summary_{out.name}")
    atomic_write_text(summary_path, summary.to_csv(index=False))
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"wrote {summary_path}")
    from mmer_tf.robustness.plot import plot_robustness

    figure = out.with_suffix(".png")
    plot_robustness(model_curves, figure, metric=metric, baseline=baseline_curves,
                    title=f"{scorer.config.model_name} {stem}")
    print(f"wrote {figure}")
    return 0
