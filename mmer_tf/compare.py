"""Rank the runs recorded in result tables: ``python -m mmer_tf compare [MODELS_DIR ...]``
(:mod:`mmer_tf.cli.compare`).

Reads every table set under the given folders (default ``models``): a ``*model_ids.csv`` found at
``<dir>/<model>/<csv folder>/`` (also accepted: ``<dir>/<csv folder>/`` when ``dir`` is one model
folder, and ``<dir>/`` when it is a csv folder). A ``-cn`` prefix (``exp1_model_ids.csv``) makes a
separate table set, labelled ``<model>:<prefix>``. Metric rows are joined with ``model_ids`` on
``run_id`` within their own folder and prefix, so run ids may repeat across models.

Ranking is by ``--metric`` (descending; ascending for errors and losses: ``mae``, ``mse*``, ``rmse``,
``loss``, ``hamming``), missing values last. Without ``--by`` each row is a run (and threshold, for
the presence table) and the printed parameters are those that differ between the rows shown
(artefact paths, columns ending in ``_file``/``_path``, are left to ``--csv``). With
``--by model_name,modalities`` runs sharing those values (e.g. differing only by seed) form a group
ranked by its mean, printed as ``mean ± std`` with the group size; the presence table's ``threshold``
always joins the grouping, since averaging over thresholds means nothing. ``--plot`` writes a bar
chart (groups: error bars and each run as a dot), ``--csv`` the full ranked table.

Groups carry a 95% interval of their mean (``ci_low``/``ci_high`` in ``--csv``; :mod:`mmer_tf.stats`):
the std is the *sample* std (ddof=1), the interval Student t over the group's runs; a group of one
run gets a bootstrap over its test segments when ``-sp`` saved its predictions (``ci`` says which),
else "n/a". ``--test A B`` tests two groups of runs: ``A``/``B`` are values of the ``--by`` columns
(comma-joined when several) or run-id sets (``3,4,7``, or ``ef#3,tfn#1`` across table sets): paired
tests (Wilcoxon signed-rank and paired t) when both ran the same seeds, Welch's t-test otherwise.

Examples::

    python -m mmer_tf compare                                  # dominant table, f1_macro
    python -m mmer_tf compare runs/ --table regression          # by mae, lowest first
    python -m mmer_tf compare --by model_name,seed --top 5 --plot best.png --csv best.csv
    python -m mmer_tf compare --by model_name --test tfn ef_williams     # seeds paired by --seed
    python -m mmer_tf compare --test 1,2,3 4,5,6                          # two sets of run ids
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd

from mmer_tf import stats
from mmer_tf.errors import MmerError
from mmer_tf import tasks
from mmer_tf.results import BOOKKEEPING_COLUMNS, MODEL_IDS_FILE, consistent_read

#: Non-metric columns a metric table may carry besides run_id; they identify the row within a run.
ROW_KEY_COLUMNS = ("threshold",)
_LOWER_IS_BETTER = re.compile(r"^(mae|mse|rmse|loss|val_loss|test_loss|hamming|log_loss)")
_NOT_SHOWN = (set(BOOKKEEPING_COLUMNS) - {"dataset"}) | {"model"}


def lower_is_better(metric: str) -> bool:
    return bool(_LOWER_IS_BETTER.match(metric))


@dataclass(frozen=True)
class TableSet:
    """One folder's tables sharing a prefix; ``label`` names it in the output."""

    csv_dir: Path
    prefix: str  # "" or "<csv_name>_"
    label: str

    def path(self, table: str) -> Path:
        name = MODEL_IDS_FILE if table == "model_ids" else tasks.table_files()[table]
        return self.csv_dir / f"{self.prefix}{name}"


def find_table_sets(models_dirs: Sequence[str | Path]) -> list[TableSet]:
    """Every ``*model_ids.csv`` under the given folders, as table sets labelled by model folder."""
    found: dict[Path, TableSet] = {}
    several = len(models_dirs) > 1
    for given in models_dirs:
        root = Path(given)
        if not root.is_dir():
            raise MmerError(f"{root}: no such folder")
        patterns = (f"*/*/*{MODEL_IDS_FILE}", f"*/*{MODEL_IDS_FILE}", f"*{MODEL_IDS_FILE}")
        for depth, pattern in zip((2, 1, 0), patterns):
            for ids_path in sorted(root.glob(pattern)):
                csv_dir = ids_path.parent
                if depth == 2:  # root is a models folder
                    model = ids_path.relative_to(root).parts[0]
                    label = str(root / model) if several else model
                elif depth == 1:  # root is one model folder
                    label = root.resolve().name
                else:  # root is a csv folder
                    label = root.resolve().parent.name
                prefix = ids_path.name[: -len(MODEL_IDS_FILE)]
                if prefix and not prefix.endswith("_"):
                    continue  # e.g. "old.model_ids.csv": not a table this tool wrote
                if prefix:
                    label = f"{label}:{prefix[:-1]}"
                found.setdefault(ids_path.resolve(), TableSet(csv_dir, prefix, label))
    return list(found.values())


def _read_set(table_set: TableSet, table: str) -> pd.DataFrame | None:
    metric_path = table_set.path(table)
    with consistent_read(table_set.csv_dir):
        if not metric_path.exists():
            return None
        try:
            ids = pd.read_csv(table_set.path("model_ids"), dtype=str, keep_default_na=False)
            metrics = pd.read_csv(metric_path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise MmerError(f"{metric_path.parent}: unreadable table ({str(exc).splitlines()[0]})")
    for frame, path in ((ids, table_set.path("model_ids")), (metrics, metric_path)):
        if "run_id" not in frame.columns:
            raise MmerError(f"{path}: no run_id column")
        frame["run_id"] = pd.to_numeric(frame["run_id"], errors="coerce")
    ids = ids.dropna(subset=["run_id"]).astype({"run_id": int}).drop_duplicates("run_id", keep="last")
    metrics = metrics.dropna(subset=["run_id"]).astype({"run_id": int})
    ids = ids.drop(columns=[c for c in ids.columns if c in metrics.columns and c != "run_id"])
    joined = metrics.merge(ids, on="run_id", how="inner")
    joined.insert(0, "model", table_set.label)
    return joined


def load(models_dirs: Sequence[str | Path], table: str) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Joined rows of ``table`` from every table set: (frame, metric columns, parameter columns)."""
    sets = find_table_sets(models_dirs)
    where = ", ".join(str(d) for d in models_dirs)
    if not sets:
        raise MmerError(f"{where}: no result tables (*{MODEL_IDS_FILE}) found")
    frames, metric_names, param_names = [], {}, {}
    for table_set in sets:
        ids_columns = pd.read_csv(table_set.path("model_ids"), nrows=0).columns
        frame = _read_set(table_set, table)
        if frame is None:
            continue
        params = [c for c in ids_columns if c in frame.columns and c not in _NOT_SHOWN]
        for column in frame.columns:
            if column in ("model", "run_id") or column in params or column in ids_columns:
                continue
            if column not in ROW_KEY_COLUMNS and pd.api.types.is_numeric_dtype(frame[column]):
                metric_names[column] = None
        param_names.update(dict.fromkeys(params))
        frames.append(frame)
    if not frames:
        raise MmerError(f"{where}: no {tasks.table_files()[table]} next to the {len(sets)} {MODEL_IDS_FILE} "
                        "table(s) found")
    frame = pd.concat(frames, ignore_index=True, sort=False)
    return frame, list(metric_names), list(param_names)


def _fmt(value: float, decimals: int) -> str:
    return "" if pd.isna(value) else f"{value:.{decimals}f}"


def _varying(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    return [c for c in columns if c in frame.columns and frame[c].astype(str).nunique(dropna=False) > 1]


@dataclass
class Ranking:
    """What :func:`rank` produced: the text table, the full CSV table and the plot data."""

    shown: pd.DataFrame
    full: pd.DataFrame
    labels: list[str]
    values: list[float]
    errors: list[float] | None
    points: list[list[float]] | None


def _interval_text(low: float, high: float, method: str, decimals: int) -> str:
    if method == "n/a" or pd.isna(low):
        return "n/a"
    text = f"[{_fmt(low, decimals)}, {_fmt(high, decimals)}]"
    return text + " (bootstrap)" if method == "bootstrap" else text


def rank(frame: pd.DataFrame, metric: str, params: Sequence[str], *, by: Sequence[str] = (),
         top: int = 20, decimals: int = 4, single_interval=None) -> Ranking:
    """Rank runs (or groups of runs sharing ``by``) by ``metric``; see the module docstring.

    ``single_interval(row)`` gives a group of one run its interval (``(low, high)`` or None), e.g. a
    bootstrap over its saved test predictions (:mod:`mmer_tf.segment_bootstrap`).
    """
    ascending = lower_is_better(metric)
    keys = [c for c in ROW_KEY_COLUMNS if c in frame.columns]
    if not by:
        ordered = frame.sort_values([metric, "model", "run_id"], ascending=[ascending, True, True],
                                    na_position="last", kind="mergesort").reset_index(drop=True)
        ordered.insert(0, "rank", range(1, len(ordered) + 1))
        head = ordered.head(top)
        # Artefact paths (model_file, ...) differ in every run by construction: they are not parameters.
        candidates = [c for c in params if c not in keys and not c.endswith(("_file", "_path"))]
        shown_params = _varying(head, keys + candidates)
        # model_name repeats the model folder's label in the usual layout: say it once.
        shown_params = [c for c in shown_params if not (head[c].astype(str) == head["model"]).all()]
        shown = head[["rank", "model", "run_id", *shown_params]].copy()
        shown[metric] = [_fmt(v, decimals) for v in head[metric]]
        labels = [f"{m} #{r}" + "".join(f" {c}={head.iloc[i][c]}" for c in keys if c in shown_params)
                  for i, (m, r) in enumerate(zip(head["model"], head["run_id"]))]
        return Ranking(shown, ordered, labels, head[metric].tolist(), None, None)

    group_keys = list(dict.fromkeys([*by, *keys]))
    as_text = frame.assign(**{c: frame[c].astype(str) for c in group_keys})
    records = []
    for key, group in as_text.groupby(group_keys, sort=False, dropna=False):
        values = group[metric]
        finite = values[pd.to_numeric(values, errors="coerce").notna()].astype(float)
        summary = stats.summarize(finite.tolist())
        low, high, method = summary.ci_low, summary.ci_high, "t" if summary.n > 1 else "n/a"
        if summary.n == 1 and single_interval is not None:
            got = single_interval(group.loc[finite.index[0]].to_dict())
            if got is not None and not pd.isna(got[0]):
                (low, high), method = got, "bootstrap"
        records.append({
            **dict(zip(group_keys, key)), "n": len(group), "mean": values.mean(),
            "std": values.std(ddof=1), "count": int(values.count()),
            "ci_low": low, "ci_high": high, "ci": method,
            "runs": " ".join(f"{m}#{r}" for m, r in zip(group["model"], group["run_id"])),
            "_points": values.dropna().tolist(),
        })
    summary = pd.DataFrame.from_records(records)
    summary = summary.sort_values(["mean", *group_keys], ascending=[ascending, *[True] * len(group_keys)],
                                  na_position="last", kind="mergesort").reset_index(drop=True)
    summary.insert(0, "rank", range(1, len(summary) + 1))
    head = summary.head(top)
    shown = head[["rank", *group_keys, "n"]].copy()
    shown[metric] = [_fmt(m, decimals) + (f" ± {_fmt(s, decimals)}" if c > 1 else "")
                     for m, s, c in zip(head["mean"], head["std"], head["count"])]
    shown["95% CI"] = [_interval_text(lo, hi, how, decimals)
                       for lo, hi, how in zip(head["ci_low"], head["ci_high"], head["ci"])]
    full = summary.drop(columns=["_points", "count"]).rename(columns={"mean": f"{metric}_mean", "std": f"{metric}_std"})
    labels = [", ".join(f"{c}={v}" for c, v in zip(group_keys, row)) for row in head[group_keys].to_numpy()]
    return Ranking(shown, full, labels, head["mean"].tolist(), head["std"].tolist(),
                   head["_points"].tolist())


_RUN_TOKEN = re.compile(r"^(?:(?P<model>.+)#)?(?P<run>\d+)$")


def select_runs(frame: pd.DataFrame, spec: str, by: Sequence[str]) -> pd.DataFrame:
    """The rows ``spec`` names for ``--test``: a value of the ``by`` columns (comma-joined), else run ids
    (``3,4`` or ``ef#3,tfn#1``); an unknown, missing or ambiguous name is a one-line error."""
    if by:
        labels = frame[list(by)].fillna("").astype(str).agg(",".join, axis=1)
        if (labels == spec).any():
            return frame[labels == spec]
    tokens = [t.strip() for t in spec.split(",") if t.strip()]
    matches = [_RUN_TOKEN.match(t) for t in tokens]
    if not tokens or not all(matches):
        known = sorted(frame[list(by)].fillna("").astype(str).agg(",".join, axis=1).unique()) if by else []
        hint = f"a value of --by {','.join(by)} ({'; '.join(known[:8])}) or " if by else "with no --by, "
        raise MmerError(f"--test {spec}: not {hint}run ids such as 3,4 or model#3")
    chosen = []
    for token, match in zip(tokens, matches):
        rows = frame[frame["run_id"] == int(match["run"])]
        if match["model"] is not None:
            rows = rows[rows["model"].astype(str) == match["model"]]
        models = rows["model"].astype(str).unique()
        if len(models) == 0:
            raise MmerError(f"--test {spec}: no run {token} in this table")
        if len(models) > 1:
            raise MmerError(f"--test {spec}: run id {token} is in {', '.join(models)}; write e.g. {models[0]}#{token}")
        chosen.append(rows)
    return pd.concat(chosen)


def test_runs(frame: pd.DataFrame, metric: str, a: str, b: str, by: Sequence[str] = ()) -> tuple[list, dict]:
    """The :func:`mmer_tf.stats.compare_groups` tests of ``metric`` between the runs ``a`` and ``b`` name."""
    groups = {}
    for name in (a, b):
        rows = select_runs(frame, name, by)
        if "threshold" in rows.columns and rows["threshold"].nunique() > 1:
            levels = ", ".join(map(str, sorted(rows["threshold"].unique())))
            raise MmerError(f"--test {name}: rows at several thresholds ({levels}); choose one with --threshold")
        rows = rows[pd.to_numeric(rows[metric], errors="coerce").notna()]
        groups[name] = rows
    overlap = set(zip(groups[a]["model"], groups[a]["run_id"])) & set(zip(groups[b]["model"], groups[b]["run_id"]))
    if overlap:
        raise MmerError(f"--test {a} {b}: both sides hold run(s) {', '.join(f'{m}#{r}' for m, r in sorted(overlap))}")
    seeds = {n: g["seed"].tolist() if "seed" in g.columns else None for n, g in groups.items()}
    try:
        results = stats.compare_groups(groups[a][metric].astype(float).tolist(),
                                       groups[b][metric].astype(float).tolist(), seeds[a], seeds[b])
    except ValueError as exc:
        raise MmerError(f"--test {a} {b}: {exc}") from None
    return results, groups


def describe_test(frame: pd.DataFrame, metric: str, names: Sequence[str], by: Sequence[str], decimals: int) -> list[str]:
    """What ``compare --test A B`` prints: each group's runs, then every test's statistic and interval."""
    a, b = names
    results, groups = test_runs(frame, metric, a, b, by)
    lines = []
    for name, rows in groups.items():
        values = rows[metric].astype(float)
        lines.append(f"{name}: n={len(values)}, mean {_fmt(values.mean(), decimals)}, runs "
                     + " ".join(f"{m}#{r}" for m, r in zip(rows["model"], rows["run_id"])))
    paired = results[0].test != "Welch's t-test"
    lines.append(f"{metric}: {'same seeds on both sides, paired by seed' if paired else 'seeds differ or are unknown: unpaired'}")
    for result in results:
        lines.append(f"{result.test}: statistic {_fmt(result.statistic, decimals)}, p-value {result.p_value:.4g}, "
                     f"mean difference {a} - {b} = {_fmt(result.mean_difference, decimals)}, 95% CI "
                     f"[{_fmt(result.ci_low, decimals)}, {_fmt(result.ci_high, decimals)}]")
    return lines


def __getattr__(name: str):
    # DEFAULT_METRIC ({table: the metric it is ranked by}) is the task registry's.
    if name == "DEFAULT_METRIC":
        return tasks.default_metrics()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
