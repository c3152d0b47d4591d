"""``main.py --tensorboard``: what ``tensorboard --logdir models/`` shows for a run.

Why not Keras' own ``TensorBoard`` callback: in Keras 3 it writes no op graph anyway, and the HParams
plugin's ``hp.KerasCallback`` expects tf.keras models; writing the events here with ``tf.summary``
gives the same scalar layout (``train/`` and ``validation/`` runs with ``epoch_<metric>`` tags, as
Keras names them) on either backend, and lets the run add its HParams summary *after* the test metrics
exist, so the HParams dashboard lists every flag beside the run's test results.

Layout, under the run's model folder::

    <mf>/<mn>/tensorboard/<param_name>_run<id>/train/        epoch_loss, epoch_acc, ..., epoch_learning_rate
    <mf>/<mn>/tensorboard/<param_name>_run<id>/validation/   epoch_loss, epoch_acc, ...
    <mf>/<mn>/tensorboard/<param_name>_run<id>/              HParams (every parameter column) + test/<table>/<metric>

A resumed run (``mmer_tf.resume``) keeps appending to its folder; a run that starts afresh under a run id
an interrupted run had given back starts from an empty folder.
"""

from __future__ import annotations

import math
import numbers
import shutil
from pathlib import Path
from typing import Mapping, Sequence

import keras

FOLDER = "tensorboard"


class TensorBoardLog(keras.callbacks.Callback):
    """Per-epoch train/validation scalars and the learning rate; :meth:`write_summary` at the end."""

    def __init__(self, log_dir: str | Path, *, fresh: bool = True):
        super().__init__()
        self.log_dir = Path(log_dir)
        if fresh and self.log_dir.exists():
            shutil.rmtree(self.log_dir)
        self._writers: dict[str, object] = {}

    @staticmethod
    def folder_for(paths, run_id: int) -> Path:
        """The run's event folder (``paths`` is a :class:`mmer_tf.results.RunPaths`)."""
        return Path(paths.model_dir) / FOLDER / f"{paths.param_name}_run{int(run_id)}"

    def _writer(self, name: str):
        import tensorflow as tf

        if name not in self._writers:
            folder = self.log_dir / name if name else self.log_dir
            self._writers[name] = tf.summary.create_file_writer(str(folder))
        return self._writers[name]

    def _learning_rate(self) -> float | None:
        optimizer = getattr(self.model, "optimizer", None)
        rate = getattr(optimizer, "learning_rate", None)
        if rate is None:
            return None
        try:
            return float(keras.ops.convert_to_numpy(rate))
        except (TypeError, ValueError):
            return None

    def on_epoch_end(self, epoch, logs=None):
        import tensorflow as tf

        train, valid = {}, {}
        for key, value in (logs or {}).items():
            if isinstance(value, numbers.Real) or hasattr(value, "__float__"):
                (valid if key.startswith("val_") else train)[key[4:] if key.startswith("val_") else key] = float(value)
        rate = self._learning_rate()
        if rate is not None:
            train["learning_rate"] = rate
        for name, scalars in (("train", train), ("validation", valid)):
            if not scalars:
                continue
            with self._writer(name).as_default():
                for key, value in sorted(scalars.items()):
                    tf.summary.scalar(f"epoch_{key}", value, step=int(epoch))
            self._writer(name).flush()

    def on_train_end(self, logs=None):
        self.close()

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()

    def write_summary(self, params: Mapping[str, object], families: Mapping[str, Sequence[Mapping[str, object]]],
                      run_id: int) -> None:
        """The HParams plugin's session (every column of ``params`` as an hparam) and the test metrics.

        Test metrics are scalars ``test/<table>/<metric>`` at step 0 (``test/<table>/t<threshold>/<metric>``
        for the presence table's rows), in the run's own folder, where the HParams dashboard finds them.
        """
        import tensorflow as tf
        from tensorboard.plugins.hparams import api as hp

        hparams = {}
        for key, value in params.items():
            if isinstance(value, bool) or isinstance(value, str):
                hparams[key] = value
            elif isinstance(value, numbers.Integral):
                hparams[key] = int(value)
            elif isinstance(value, numbers.Real):
                hparams[key] = float(value)
            else:
                hparams[key] = "" if value is None else str(value)
        writer = self._writer("")
        with writer.as_default():
            hp.hparams(hparams, trial_id=f"{self.log_dir.name}")
            for family, rows in families.items():
                rows = [rows] if isinstance(rows, Mapping) else rows
                for row in rows:
                    where = f"test/{family}" + (f"/t{row['threshold']}" if "threshold" in row else "")
                    for key, value in row.items():
                        if key == "threshold" or isinstance(value, bool) or not isinstance(value, numbers.Real):
                            continue
                        if math.isfinite(float(value)):
                            tf.summary.scalar(f"{where}/{key}", float(value), step=0)
        writer.flush()
        self.close()
