"""What every task module provides, so the runner asks the task instead of branching on it.

A task is one module in ``mmer_tf/tasks/`` (or named in ``MMER_PLUGINS``) with ``TASK = <Task subclass>()``;
:mod:`mmer_tf.tasks` finds it, and ``-lt``'s choices, the result tables' file names (``results``) and
``compare``'s tables and default metrics come from the registered tasks' ``label_types`` and
``all_tables``.

A task owns the meaning of the labels for one kind of question (CMU-MOSEI emotion presence, sentiment
intensity, one category per segment): which label columns it needs, the training targets and output head,
the loss/activation defaults, its metric tables, the trivial baseline a model must beat, and what ``-sp``
/ ``-scm`` save. Label columns are found by name (``SegmentSet.info["label_names"]``), never by position,
so any corpus that declares the columns a task needs can be trained on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from mmer_tf.errors import MmerError


@dataclass(frozen=True)
class Table:
    """One metric table a task writes: its ``compare --table`` name, its file stem (the metric family the
    task's ``evaluate`` returns rows for) and the metric ``compare`` ranks it by."""

    name: str
    family: str
    metric: str

    @property
    def file(self) -> str:
        return f"{self.family}.csv"


@dataclass(frozen=True)
class LabelSchema:
    """The label columns of a corpus (``label_names``) and, for a categorical corpus, its class names."""

    label_names: tuple[str, ...]
    classes: tuple[str, ...] = ()

    @classmethod
    def of(cls, info: Mapping) -> "LabelSchema":
        return cls(tuple(info.get("label_names") or ()), tuple(info.get("classes") or ()))

    def column(self, labels: np.ndarray, name: str) -> np.ndarray:
        """The named label column of ``labels`` as float64 ``[N]``."""
        if name not in self.label_names:
            raise MmerError(f"labels have no {name!r} column (have {', '.join(self.label_names) or 'none'})")
        return np.asarray(labels, dtype=np.float64)[:, self.label_names.index(name)]


class Task:
    """Base of the task modules' classes; see the module docstring for what each method answers."""

    name: str = ""
    #: one clause for ``-lt``'s help: what the task predicts, and what each of its label types means
    summary: str = ""
    #: the ``-lt`` values this task answers (the registry refuses one claimed by two tasks)
    label_types: tuple[str, ...] = ()
    #: every table the task may write; :meth:`tables` says which ones a given configuration writes
    all_tables: tuple[Table, ...] = ()
    #: ``"scores"`` (regression), ``"probabilities"`` (a sigmoid per class) or ``"classes"`` (softmax).
    output_kind_default: str = "scores"

    def supports(self, schema: LabelSchema) -> bool:
        raise NotImplementedError

    def output_kind(self, config) -> str:
        return self.output_kind_default

    def default_activation(self, config) -> str:
        return {"scores": "linear", "probabilities": "sigmoid", "classes": "softmax"}[self.output_kind(config)]

    def num_outputs(self, config, schema: LabelSchema) -> int:
        raise NotImplementedError

    def targets(self, config, labels: np.ndarray, schema: LabelSchema) -> np.ndarray:
        raise NotImplementedError

    def evaluate(self, config, labels: np.ndarray, predictions: np.ndarray,
                 schema: LabelSchema) -> dict[str, list[dict]]:
        raise NotImplementedError

    def baseline(self, config, train_labels: np.ndarray, n: int, schema: LabelSchema) -> np.ndarray:
        """Outputs of the trivial predictor: the training mean of the targets, for every test row."""
        targets = self.targets(config, train_labels, schema)
        if len(targets) == 0:
            raise MmerError("baseline: the training fold has no segments")
        mean = targets.mean(axis=0, dtype=np.float64).astype(np.float32)
        return np.broadcast_to(mean, (int(n), mean.size)).copy()

    def tables(self, config) -> tuple[str, ...]:
        """The metric families (table stems) a run of this task appends to (checked before training):
        every one of :attr:`all_tables` unless the task says otherwise for ``config``."""
        return tuple(table.family for table in self.all_tables)

    def save_confusion(self, config, paths, run_id: int, labels: np.ndarray, predictions: np.ndarray,
                       schema: LabelSchema) -> list:
        """Write ``-scm`` artefacts; returns the paths written."""
        return []

    def headline(self) -> Sequence[str]:
        """Columns the runner prints for the model and the baseline."""
        return ("mae", "acc", "f1_macro", "f1_weighted", "roc_auc_macro")
