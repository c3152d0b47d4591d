"""Where a run's artefacts and tables go: table file names and :class:`RunPaths` (see the package doc)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mmer_tf import tasks as _tasks
from mmer_tf.errors import MmerError

MODEL_IDS_FILE = "model_ids.csv"
#: Columns of model_ids.csv that describe the run's bookkeeping rather than what was run.
BOOKKEEPING_COLUMNS = ("run_id", "dataset", "status", "started", "finished", "wall_time_s", "host", "job")

_FAMILY_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def check_name(value: str, flag: str, *, allow_empty: bool = False) -> str:
    if (not value and not allow_empty) or "/" in value or "\\" in value or value in (".", ".."):
        raise MmerError(f"{flag} {value!r}: must be a plain name (no '/', not empty)")
    return value


def table_filename(family: str, csv_name: str = "") -> str:
    """File name of ``family``'s table, with the ``-cn`` prefix if any.

    ``family`` is a short name (``regression``, ``coarse``, ``presence``, ``dominant``), ``model_ids``,
    or any lower-case stem such as ``classification_presence`` (the names :mod:`mmer_tf.metrics` uses).
    """
    if family == "model_ids":
        base = MODEL_IDS_FILE
    elif family in (files := _tasks.table_files()):
        base = files[family]
    elif _FAMILY_NAME.match(family):
        # The long names mmer_tf.metrics uses ("classification_presence", ...) are the table stems; a new
        # metric family gets its own table without touching this module.
        base = f"{family}.csv"
    else:
        raise ValueError(f"metric family {family!r} is not a lower-case identifier")
    return f"{csv_name}_{base}" if csv_name else base


@dataclass(frozen=True)
class RunPaths:
    """Where one configuration's artefacts and tables go; artefact names carry the run id."""

    model_dir: Path
    csv_dir: Path
    param_name: str
    csv_name: str = ""

    @classmethod
    def for_config(cls, config) -> "RunPaths":
        """Paths for an :class:`~mmer_tf.config.ExperimentConfig` (``-mf``, ``-mn``, ``-cf``, ``-cn``)."""
        model_name = check_name(config.model_name, "-mn/--model_name")
        csv_name = check_name(config.csv_name, "-cn/--csv_name", allow_empty=True)
        if not config.csv_folder:
            raise MmerError("-cf/--csv_folder: must not be empty")
        model_dir = Path(config.model_folder) / model_name
        return cls(model_dir, model_dir / config.csv_folder, config.param_name, csv_name)

    def table(self, family: str) -> Path:
        return self.csv_dir / table_filename(family, self.csv_name)

    @property
    def model_ids(self) -> Path:
        return self.table("model_ids")

    def _artefact(self, stem: str, run_id: int, suffix: str) -> Path:
        return self.model_dir / f"{stem}_{self.param_name}_run{int(run_id)}{suffix}"

    def best_model(self, run_id: int) -> Path:
        return self._artefact("model", run_id, ".keras")

    def predictions(self, run_id: int) -> Path:
        return self._artefact("predictions", run_id, ".npz")

    def confusion(self, run_id: int, tag: str = "") -> Path:
        return self._artefact("conf_matrix", run_id, f"{tag}.npz")

    def confusion_plot(self, run_id: int, tag: str = "") -> Path:
        return self._artefact("conf_matrix", run_id, f"{tag}.png")

    def history_plot(self, run_id: int) -> Path:
        return self._artefact("history", run_id, ".png")

    def ensure_dirs(self) -> None:
        try:
            self.model_dir.mkdir(parents=True, exist_ok=True)
            self.csv_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MmerError(f"{exc.filename or self.csv_dir}: cannot create output folder ({exc.strerror})")
