"""One self-contained HTML page of findings: ``python -m mmer_tf report [MODELS_DIR ...] --out report.html``
(:mod:`mmer_tf.cli.report`).

Per metric table found (the tables ``compare`` reads): the ranked runs, the groups of runs that differ
only by seed (mean ± sample std, 95% interval; :mod:`mmer_tf.stats` through :func:`mmer_tf.compare.rank`),
per-class bars of the top runs, their learning curves and confusion matrices (the PNGs each run saved),
the parameters that differ. Then the robustness evaluations (``python -m mmer_tf evaluate``) and the
searches (``python -m mmer_tf search``: trials against their validation value, the chosen configuration
and its final seeds).

The page needs no network: figures are inline base64 PNGs, styles inline, no scripts. Tables of any
earlier version of the suite are read (a missing column is shown empty; a section without data is left
out with one line saying why).
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from mmer_tf import compare
from mmer_tf.errors import MmerError

#: Columns that vary between seeds of one configuration or only describe how a row was produced.
NOT_A_GROUP = {"seed", "config_digest", "epochs_run", "best_epoch", "study", "trial", "final", "n_train",
               "n_valid", "n_test", "code_version", "tensorflow_version", "keras_version", "jax_version",
               "data_fingerprint", "device", "keras_backend", "best_valid_value", "wall_time_s",
               "model_name"}  # the table set's label (``model``) already names the model folder
_AGGREGATES = ("macro", "weighted", "micro", "samples")
_RUN_ID = re.compile(r"_run(\d+)(?:_tp[0-9.]+)?\.(?:png|csv|npz)$")

STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px auto;max-width:1180px;
color:#1d2733;background:#fff;line-height:1.4}
h1{font-size:26px;margin:0 0 4px}h2{font-size:21px;border-bottom:2px solid #4c72b0;padding-bottom:4px;margin-top:34px}
h3{font-size:16px;margin:20px 0 6px;color:#33475b}.meta{color:#5a6b7b;font-size:13px}
table{border-collapse:collapse;font-size:12.5px;margin:6px 0 10px}th,td{border:1px solid #d5dde5;padding:3px 7px;
text-align:right;white-space:nowrap}th{background:#eef2f7;text-align:center}td.l,th.l{text-align:left}
tr:nth-child(even) td{background:#f8fafc}.scroll{overflow-x:auto;max-width:100%}
img{max-width:100%;border:1px solid #e3e8ee;margin:4px 8px 8px 0}.note{color:#5a6b7b;font-size:13px}
nav a{margin-right:14px}.figs{display:flex;flex-wrap:wrap;align-items:flex-start}
.figs figure{margin:0 12px 10px 0}.figs figcaption{font-size:12px;color:#5a6b7b}.figs img{max-width:540px}
"""


# ------------------------------------------------------------------------------------------- html
def _esc(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return html.escape(str(value))


def table_html(frame: pd.DataFrame, *, decimals: int = 4, left: Sequence[str] = ()) -> str:
    """A plain HTML table (numbers rounded, NaN empty); ``left`` columns left-aligned."""
    head = "".join(f'<th class="{"l" if c in left else ""}">{_esc(c)}</th>' for c in frame.columns)
    # A column of whole numbers read as float (a run_id beside an empty cell) prints as integers.
    whole = {c for c in frame.columns if pd.api.types.is_float_dtype(frame[c]) and frame[c].notna().any()
             and np.all(np.mod(frame[c].dropna(), 1) == 0) and c in ("run_id", "trial", "seed", "n", "rank")}
    rows = []
    for record in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, record):
            if isinstance(value, (float, np.floating)) and not np.isnan(value):
                value = f"{int(value)}" if column in whole else f"{value:.{decimals}f}"
            cells.append(f'<td class="{"l" if column in left else ""}">{_esc(value)}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="scroll"><table><tr>{head}</tr>{"".join(rows)}</table></div>'


def _png_tag(data: bytes, alt: str, width: int | None = None) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    size = f' style="width:{width}px"' if width else ""
    return f'<img alt="{_esc(alt)}" src="data:image/png;base64,{encoded}"{size}>'


def _figure_tag(fig, alt: str) -> str:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=96)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return _png_tag(buffer.getvalue(), alt)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


# ----------------------------------------------------------------------------------- table sections
def group_columns(frame: pd.DataFrame, params: Sequence[str]) -> list[str]:
    """``model`` plus the parameters that differ between runs of one model, less seeds and per-run
    bookkeeping (a model's own hyper-parameter columns, empty for the others, add nothing to ``model``)."""
    columns = ["model"]
    for column in params:
        if column in NOT_A_GROUP or column.endswith(("_file", "_path")) or column not in frame.columns:
            continue
        if (frame[column].astype(str).groupby(frame["model"]).nunique(dropna=False) > 1).any():
            columns.append(column)
    return columns


def class_columns(frame: pd.DataFrame, metric: str) -> list[str]:
    """Per-class columns of ``metric``'s family (``f1_happy`` ... for ``f1_macro``), in table order."""
    base = metric.split("_")[0]
    out = []
    for column in frame.columns:
        if not column.startswith(base + "_") or column == metric:
            continue
        rest = column[len(base) + 1:]
        if rest in _AGGREGATES or rest.startswith(_AGGREGATES) or not pd.api.types.is_numeric_dtype(frame[column]):
            continue
        out.append(column)
    return out


def class_bars(frame: pd.DataFrame, columns: Sequence[str], labels: Sequence[str], metric: str) -> str:
    plt = _pyplot()
    width = 0.8 / max(len(frame), 1)
    names = [c.split("_", 1)[1] for c in columns]
    fig, ax = plt.subplots(figsize=(min(2.2 + 0.9 * len(columns) * max(len(frame), 1) * 0.6, 11.5), 3.4))
    positions = np.arange(len(columns))
    for i, (label, (_, row)) in enumerate(zip(labels, frame.iterrows())):
        values = pd.to_numeric(row[list(columns)], errors="coerce").to_numpy(dtype=float)
        ax.bar(positions + i * width - 0.4 + width / 2, np.nan_to_num(values), width, label=label)
    ax.set_xticks(positions, names, rotation=30 if len(names) > 6 else 0, ha="right" if len(names) > 6 else "center")
    ax.set_ylabel(metric.split("_")[0] + " per class")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncol=min(len(labels), 3))
    return _figure_tag(fig, f"per-class {metric}")


def _run_artefact(row: pd.Series, stem: str) -> list[Path]:
    """The ``<stem>_<param>_run<id>*.png`` files of a run, from its ``model_file`` column's folder."""
    model_file = str(row.get("model_file") or "")
    if not model_file or model_file == "nan":
        return []
    path = Path(model_file)
    if not path.name.startswith("model_") or path.suffix != ".keras":
        return []
    middle = path.name[len("model_"):-len(".keras")]
    found = sorted(path.parent.glob(f"{stem}_{middle}.png")) + sorted(path.parent.glob(f"{stem}_{middle}_tp*.png"))
    return [p for p in found if p.is_file()]


#: Per-run outcomes recorded beside the parameters: they differ between seeds and are not settings.
OUTCOMES = {"config_digest", "best_epoch", "epochs_run", "best_valid_value", "wall_time_s", "model_params"}


def differing_parameters(frame: pd.DataFrame, params: Sequence[str]) -> pd.DataFrame:
    """Each parameter (and provenance column) with more than one value, its values and their run counts."""
    rows = []
    for column in params:
        if column not in frame.columns or column in OUTCOMES or column.endswith(("_file", "_path")):
            continue
        values = frame[column].astype(object).where(frame[column].notna(), "").astype(str)
        if values.nunique(dropna=False) > 1:
            counts = values.value_counts()
            rows.append({"parameter": column,
                         "values (runs)": ", ".join(f"{v or '(empty)'} ({n})" for v, n in counts.items())})
    return pd.DataFrame(rows, columns=["parameter", "values (runs)"])


def table_section(dirs: Sequence[str], table: str, top: int, bootstrap: int = 0) -> str | None:
    """The HTML of one metric table's findings, or None when no table set has it."""
    try:
        frame, metrics, params = compare.load(dirs, table)
    except MmerError:
        return None
    metric = compare.DEFAULT_METRIC.get(table, metrics[0] if metrics else "")
    if metric not in metrics:
        if not metrics:
            return None
        metric = metrics[0]
    direction = "lower" if compare.lower_is_better(metric) else "higher"
    parts = [f'<h2 id="t-{table}">{_esc(table)}: {_esc(metric)} ({direction} is better)</h2>',
             f'<p class="meta">{len(frame)} rows from {frame["model"].nunique()} table set(s)</p>']
    # Columns that only tell models apart (their own hyper-parameters) or differ between any two runs by
    # construction (a digest) are left to "Parameters that differ"; the seed stays.
    by = group_columns(frame, params)
    shown_params = [p for p in params if p == "seed" or p in by]
    ranking = compare.rank(frame, metric, shown_params, top=top)
    parts.append(f"<h3>Top {min(top, len(frame))} runs</h3>")
    parts.append(table_html(ranking.shown, left=["model"]))

    single = None
    if bootstrap:
        from mmer_tf import segment_bootstrap

        family = compare.TableSet(Path("."), "", "").path(table).stem

        def single(row):
            return segment_bootstrap.interval(row, family, metric, resamples=bootstrap)

    grouped = compare.rank(frame, metric, params, by=by, top=max(top, 10), single_interval=single)
    parts.append(f"<h3>Groups by {_esc(', '.join(by))}</h3>")
    parts.append('<p class="note">mean ± sample std (ddof=1) over the runs of each group; 95% CI: Student t '
                 'over those runs; for a single run, a bootstrap over its test segments when <code>-sp</code> '
                 'saved its predictions, else n/a.</p>')
    shown = grouped.shown.copy()
    shown["runs"] = grouped.full["runs"].head(len(shown)).to_numpy()
    parts.append(table_html(shown.rename(columns={metric: f"{metric} (mean ± std)"}), left=["model", "runs"]))

    head = ranking.full.head(min(top, 3))
    per_class = class_columns(head, metric)
    if per_class and len(head):
        labels = [f"{m} #{r}" for m, r in zip(head["model"], head["run_id"])]
        parts.append(f"<h3>Per class ({_esc(metric.split('_')[0])}), top {len(head)} runs</h3>")
        parts.append(class_bars(head, per_class, labels, metric))

    for stem, title in (("history", "Learning curves"), ("conf_matrix", "Confusion matrices")):
        figures = []
        for _, row in head.iterrows():
            for path in _run_artefact(row, stem):
                caption = f"{row['model']} run {row['run_id']}" + (f" ({path.stem.rsplit('_', 1)[-1]})"
                                                                   if "_tp" in path.stem else "")
                figures.append(f"<figure>{_png_tag(path.read_bytes(), caption)}<figcaption>{_esc(caption)}"
                               "</figcaption></figure>")
        if figures:
            parts.append(f'<h3>{title}, top runs</h3><div class="figs">{"".join(figures)}</div>')
        elif stem == "history":
            parts.append(f'<p class="note">{title}: no saved figures found for the top runs '
                         "(tables of an older version record no <code>model_file</code>, or the PNGs were moved).</p>")

    differ = differing_parameters(frame, params)
    parts.append("<h3>Parameters that differ</h3>")
    parts.append(table_html(differ, left=["parameter", "values (runs)"]) if len(differ)
                 else '<p class="note">All runs share every recorded parameter.</p>')
    return "\n".join(parts)


# ------------------------------------------------------------------------------------- robustness
def _model_folders(dirs: Sequence[str]) -> list[Path]:
    folders = []
    for given in dirs:
        root = Path(given)
        for candidate in [root, *sorted(p for p in root.iterdir() if p.is_dir())]:
            if candidate not in folders:
                folders.append(candidate)
    return folders


def robustness_section(dirs: Sequence[str]) -> str | None:
    parts = []
    for folder in _model_folders(dirs):
        for summary_path in sorted(folder.glob("robustness_summary_*.csv")):
            curve_png = summary_path.with_name(summary_path.name.replace("robustness_summary_", "robustness_", 1)
                                               ).with_suffix(".png")
            try:
                summary = pd.read_csv(summary_path)
            except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError):
                parts.append(f'<p class="note">{_esc(summary_path)}: unreadable, skipped.</p>')
                continue
            title = f"{folder.name}: {summary_path.stem[len('robustness_summary_'):]}"
            parts.append(f"<h3>{_esc(title)}</h3>")
            if curve_png.is_file():
                parts.append(_png_tag(curve_png.read_bytes(), f"robustness {title}"))
            parts.append(table_html(summary, left=["table", "metric", "condition", "modality"]))
            missing = summary_path.with_name(curve_png.stem + ".csv")
            if missing.is_file():
                try:
                    rows = pd.read_csv(missing)
                except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError):
                    rows = None
                if rows is not None and "condition" in rows.columns:
                    metric = str(summary["metric"].iloc[0]) if "metric" in summary.columns and len(summary) else None
                    pick = rows[rows["condition"].isin(["clean", "missing"])]
                    if "table" in pick.columns and len(pick):
                        named = summary["table"].iloc[0] if "table" in summary.columns and len(summary) else None
                        pick = pick[pick["table"] == (named if named in set(pick["table"]) else pick["table"].iloc[0])]
                    keep = [c for c in ("condition", "modality", "table", "threshold", metric)
                            if c and c in pick.columns and pick[c].notna().any()]
                    if len(pick) and metric in pick.columns:
                        parts.append('<p class="note">Missing modalities (zeroed and masked):</p>')
                        parts.append(table_html(pick[keep], left=["condition", "modality", "table"]))
    if not parts:
        return None
    return ('<h2 id="robustness">Robustness</h2><p class="note">From <code>python -m mmer_tf evaluate --robustness'
            "</code>. Relative robustness: trapezoid area under the metric-vs-level curve (levels 0.0-0.9, step "
            "0.1); effective robustness: Σ[(f<sub>i</sub>−f<sub>0</sub>)−(b<sub>i</sub>−b<sub>0</sub>)] against "
            "the baseline (dashed). Raw values: MultiBench min-max normalises against curves stored in its own "
            "script, which no other study can reproduce.</p>" + "\n".join(parts))


# ----------------------------------------------------------------------------------------- searches
def _search_files(dirs: Sequence[str]) -> list[Path]:
    found = []
    for folder in _model_folders(dirs):
        for path in sorted(folder.glob("search/*trials.csv")) + sorted(folder.glob("*trials.csv")):
            if path not in found:
                found.append(path)
    return found


def _final_runs(dirs: Sequence[str], study: str) -> pd.DataFrame:
    """Rows of the study's final seeds from the first table that has them, a table of one row per run
    (dominant) before one of a row per threshold (presence)."""
    found = []
    for table in compare.DEFAULT_METRIC:
        try:
            frame, metrics, _ = compare.load(dirs, table)
        except MmerError:
            continue
        if "study" not in frame.columns or "final" not in frame.columns:
            continue
        final = frame[(frame["study"].astype(str) == study)
                      & (pd.to_numeric(frame["final"], errors="coerce") == 1)]
        if len(final):
            found.append(final.assign(_table=table, _metric=compare.DEFAULT_METRIC[table]))
    found.sort(key=lambda rows: "threshold" in rows.columns and rows["threshold"].notna().any())
    return found[0] if found else pd.DataFrame()


def search_section(dirs: Sequence[str]) -> str | None:
    files = _search_files(dirs)
    if not files:
        return None
    plt = _pyplot()
    parts = ['<h2 id="searches">Searches</h2><p class="note">Each trial chose nothing from test data: its value is the '
             "validation metric at the restored best epoch. The chosen configuration was re-run with the final "
             "seeds; their test metrics are below.</p>"]
    for path in files:
        study = path.name[: -len(".trials.csv")] if path.name.endswith(".trials.csv") else path.stem
        try:
            trials = pd.read_csv(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError):
            parts.append(f'<p class="note">{_esc(path)}: unreadable, skipped.</p>')
            continue
        parts.append(f"<h3>Study {_esc(study)} ({_esc(path.parent.parent.name)})</h3>")
        number = "trial" if "trial" in trials.columns else "number" if "number" in trials.columns else None
        value = pd.to_numeric(trials.get("value"), errors="coerce") if "value" in trials.columns else None
        final = _final_runs(dirs, study)
        chosen = None
        if len(final) and "trial" in final.columns:
            chosen_values = pd.to_numeric(final["trial"], errors="coerce").dropna().unique()
            chosen = int(chosen_values[0]) if len(chosen_values) == 1 else None
        if number and value is not None and value.notna().any():
            fig, ax = plt.subplots(figsize=(6.4, 3.2))
            states = trials.get("state", pd.Series(["COMPLETE"] * len(trials))).astype(str)
            done = value.notna()
            ax.scatter(trials[number][done], value[done], color="#4c72b0", label="trial (validation value)", zorder=3)
            pruned = states.str.upper().eq("PRUNED")
            if pruned.any():
                ax.scatter(trials[number][pruned], np.full(int(pruned.sum()), np.nanmin(value)), marker="x",
                           color="grey", label="pruned")
            if chosen is not None and (trials[number] == chosen).any():
                pick = trials[number] == chosen
                ax.scatter(trials[number][pick], value[pick], s=140, facecolors="none", edgecolors="#c44e52",
                           linewidths=2, label=f"chosen (trial {chosen})", zorder=4)
            from matplotlib.ticker import MaxNLocator

            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("trial")
            ax.set_ylabel("validation value")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
            parts.append(_figure_tag(fig, f"study {study}: trials"))
        shown = trials.copy()
        if "params" in shown.columns:
            shown["params"] = [_params_text(p) for p in shown["params"]]
        parts.append(table_html(shown, left=["params", "state"], decimals=6))
        if chosen is not None:
            row = trials[trials[number] == chosen] if number else pd.DataFrame()
            params = _params_text(row["params"].iloc[0]) if len(row) and "params" in row.columns else "(not in trials.csv)"
            parts.append(f"<p><b>Chosen by validation:</b> trial {chosen}: {_esc(params)}</p>")
        if len(final):
            metric = final["_metric"].iloc[0]
            values = pd.to_numeric(final[metric], errors="coerce").dropna()
            from mmer_tf import stats

            summary = stats.summarize(values.tolist())
            interval = (f"[{summary.ci_low:.4f}, {summary.ci_high:.4f}]" if summary.n > 1 else "n/a")
            parts.append(f"<p><b>Final seeds</b> ({final['_table'].iloc[0]} table, {summary.n} runs): test {metric} "
                         f"{summary.mean:.4f} ± {summary.std:.4f} (sample std), 95% CI {interval}</p>")
            keep = [c for c in ("model", "run_id", "seed", "trial", metric) if c in final.columns]
            parts.append(table_html(final[keep], left=["model"]))
        else:
            parts.append('<p class="note">No final-seed rows (final=1) found for this study in the tables.</p>')
    return "\n".join(parts)


def _params_text(raw) -> str:
    if not isinstance(raw, str):
        return ""
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return raw


# --------------------------------------------------------------------------------------------- page
def build(dirs: Sequence[str], top: int = 5, title: str = "mmer_tf findings", bootstrap: int = 0) -> str:
    """The whole page as a string."""
    from mmer_tf.results import TABLE_FILES

    if not compare.find_table_sets(dirs):
        raise MmerError(f"{', '.join(map(str, dirs))}: no result tables (*model_ids.csv) found")
    sections, nav = [], []
    for table in TABLE_FILES:
        section = table_section(dirs, table, top, bootstrap)
        if section:
            sections.append(section)
            nav.append(f'<a href="#t-{table}">{_esc(table)}</a>')
    for anchor, label, section in (("robustness", "robustness", robustness_section(dirs)),
                                   ("searches", "searches", search_section(dirs))):
        if section:
            sections.append(section)
            nav.append(f'<a href="#{anchor}">{label}</a>')
    if not sections:
        raise MmerError(f"{', '.join(map(str, dirs))}: model_ids tables found but no metric table beside them")
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>'
            f"<style>{STYLE}</style></head><body><h1>{_esc(title)}</h1>"
            f'<p class="meta">{_esc(", ".join(map(str, dirs)))} · generated {stamp} by python -m mmer_tf report</p>'
            f"<nav>{''.join(nav)}</nav>" + "\n".join(sections) + "</body></html>")
