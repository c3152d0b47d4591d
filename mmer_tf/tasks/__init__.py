"""The tasks a run can train (``-lt``): one module each, found by the ``-lt`` value.

``emotions`` (``all``, ``coarse``, ``present``, ``dominant``: CMU-MOSEI's six emotions), ``sentiment``
(regression in [-3, 3], MMSA's metrics) and ``category`` (one class per segment, softmax). A corpus
declares its label columns; :func:`supported_tasks` says which tasks those columns allow, so an
unsupported corpus/task pair is refused before any work.
"""

from __future__ import annotations

from mmer_tf.errors import MmerError
from mmer_tf.tasks import category, emotions, sentiment
from mmer_tf.tasks.base import LabelSchema, Task

TASKS: tuple[Task, ...] = (emotions.TASK, sentiment.TASK, category.TASK)
LABEL_TYPES: tuple[str, ...] = tuple(lt for task in TASKS for lt in task.label_types)


def for_label_type(label_type: str) -> Task:
    for task in TASKS:
        if label_type in task.label_types:
            return task
    raise MmerError(f"-lt/--label_type: unknown label type {label_type!r}; choose one of {', '.join(LABEL_TYPES)}")


def supported_tasks(label_names, classes=()) -> tuple[str, ...]:
    schema = LabelSchema(tuple(label_names), tuple(classes))
    return tuple(task.name for task in TASKS if task.supports(schema))


def check_supported(label_type: str, schema: LabelSchema, corpus: str) -> Task:
    """The task for ``-lt label_type``, or a one-line error naming the corpus and the task."""
    task = for_label_type(label_type)
    if not task.supports(schema):
        allowed = [lt for t in TASKS if t.supports(schema) for lt in t.label_types]
        raise MmerError(
            f"corpus {corpus} has no labels for task {task.name} (-lt {label_type}); it has "
            f"{', '.join(schema.label_names) or 'no labels'}, so use -lt {' / '.join(allowed) or '?'}"
        )
    return task


__all__ = ["LabelSchema", "Task", "TASKS", "LABEL_TYPES", "for_label_type", "supported_tasks", "check_supported"]
