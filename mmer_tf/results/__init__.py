"""Run ids, result tables and artefact paths: everything a run leaves in ``models/<model_name>/``.

One job per module: :mod:`~mmer_tf.results.paths` (file names, :class:`RunPaths`),
:mod:`~mmer_tf.results.run_ids` (reserve, release, discard; :func:`holding`, the context manager
``experiment.run`` keeps a run's id in), :mod:`~mmer_tf.results.store` (the journaled, locked CSV store),
:mod:`~mmer_tf.results.record` (:func:`write_run`) and :mod:`~mmer_tf.results.unrecorded` (the
``unrecorded_run<id>.json`` fallback; its command is ``python -m mmer_tf results record``). Everything
other modules use is importable from here.

Layout (``-mf`` = ``config.model_folder``, ``-mn`` = ``config.model_name``, ``-cf`` = ``config.csv_folder``)::

    <mf>/<mn>/model_<param_name>_run<id>.keras        best model
    <mf>/<mn>/predictions_<param_name>_run<id>.npz    -sp: predictions and truth
    <mf>/<mn>/conf_matrix_<param_name>_run<id>.npz    -scm: multilabel confusion matrices (+ .png)
    <mf>/<mn>/history_<param_name>_run<id>.png        loss / metric curves
    <mf>/<mn>/<cf>/model_ids.csv                      one row per run: id, dataset, parameters, times
    <mf>/<mn>/<cf>/regression.csv                     one row per run (mae, mse, mse_happy, ...)
    <mf>/<mn>/<cf>/classification_score_coarse.csv
    <mf>/<mn>/<cf>/classification_presence.csv        one row per run and presence threshold
    <mf>/<mn>/<cf>/classification_dominant.csv

``-cf`` may be absolute (then it replaces ``<mf>/<mn>/<cf>``, as ``os.path.join`` does). ``-cn``
(``config.csv_name``) is a *prefix*: with ``-cn exp1`` the tables are ``exp1_model_ids.csv``,
``exp1_regression.csv``, ... in the same folder, so several experiment series can share a model folder;
run ids stay unique across all prefixes of a folder.

Concurrency (many runs of a cluster array writing the same tables):

* Run ids come from :func:`reserve_run_id`: exclusive creation of ``<csv dir>/.run_ids/<id>``. The seed
  used "row count = id", which hands the same id to two runs that finish together.
* A table is only ever replaced whole (write a staged file, fsync, rename), under the folder's
  ``filelock.FileLock``, so a reader sees the old or the new table, never half a row.
* :func:`write_run` appends to all the tables of a run in one transaction (:func:`commit_tables`): every
  new table version is staged first, then a journal is renamed into place (the commit point), then the
  staged files are renamed. A failure before the commit point (a full disk) changes no table; a writer
  killed after it has its renames finished by the next writer. ``model_ids.csv`` is renamed last.
* A run that fails after training saves its rows to ``unrecorded_run<id>.json`` instead of losing them;
  one interrupted before (Ctrl-C) removes its artefacts and gives its id back (:func:`holding`,
  :func:`discard_run`).
"""

from __future__ import annotations

from mmer_tf import tasks as _tasks
from mmer_tf.results.paths import BOOKKEEPING_COLUMNS, MODEL_IDS_FILE, RunPaths, check_name, table_filename
from mmer_tf.results.record import save_predictions, write_run
from mmer_tf.results.run_ids import (DISCARD_ON, RESERVATION_DIR, HeldRuns, discard_run, holding, release_run_id,
                                     reserve_run_id, run_artefacts, run_id_state)
from mmer_tf.results.store import (FOLDER_LOCK, JOURNAL_FILE, LOCK_TIMEOUT_S, TXN_SUFFIX, append_rows, check_tables,
                                   commit_tables, consistent_read, folder_lock, recover_tables)
from mmer_tf.results.unrecorded import record_unrecorded


def __getattr__(name: str):
    # TABLE_FILES (table name -> file name, e.g. presence -> classification_presence.csv) is the task
    # registry's, read when asked so that a plugin task's tables are included.
    if name == "TABLE_FILES":
        return _tasks.table_files()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["BOOKKEEPING_COLUMNS", "DISCARD_ON", "FOLDER_LOCK", "HeldRuns", "JOURNAL_FILE", "LOCK_TIMEOUT_S",
           "MODEL_IDS_FILE", "RESERVATION_DIR", "RunPaths", "TXN_SUFFIX", "append_rows", "check_name", "check_tables",
           "commit_tables", "consistent_read", "discard_run", "folder_lock", "holding", "record_unrecorded",
           "recover_tables", "release_run_id", "reserve_run_id", "run_artefacts", "run_id_state", "save_predictions",
           "table_filename", "write_run"]
