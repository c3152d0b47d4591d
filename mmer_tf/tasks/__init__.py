"""The tasks a run can train (``-lt``): one module each, found by the ``-lt`` value.

Every module of this package (or of ``MMER_PLUGINS``, see :mod:`mmer_tf.plugins`) with
``TASK = <Task>()`` is a task; this registry is the only list. ``-lt``'s choices (:func:`label_types`),
the result tables' file names (:func:`table_files`, used by ``results``) and ``compare``'s tables and
default metrics (:func:`default_metrics`) are derived from the tasks' ``label_types`` and ``all_tables``.
Built in: ``emotions`` (``all``, ``coarse``, ``present``, ``dominant``: CMU-MOSEI's six emotions),
``sentiment`` (regression in [-3, 3], MMSA's metrics) and ``category`` (one class per segment, softmax).
A corpus declares its label columns; :func:`supported_tasks` says which tasks those columns allow, so an
unsupported corpus/task pair is refused before any work.
"""

from __future__ import annotations

from mmer_tf.errors import MmerError
from mmer_tf.tasks.base import LabelSchema, Table, Task

PACKAGE = __name__


def _tasks_in(module) -> tuple[Task, ...]:
    task = getattr(module, "TASK", None)
    return (task,) if isinstance(task, Task) else ()


def tasks() -> tuple[Task, ...]:
    """Every registered task (this package's modules by name, then ``MMER_PLUGINS``'s)."""
    from mmer_tf import plugins

    from mmer_tf.config import ExperimentConfig

    found = tuple(plugins.members(PACKAGE, _tasks_in, lambda task: task.name, "task").values())
    default = ExperimentConfig().label_type  # the default task first, in help and error messages
    found = tuple(sorted(found, key=lambda task: default not in task.label_types))
    owner: dict[str, str] = {}
    for task in found:
        for label_type in task.label_types:
            if label_type in owner:
                raise MmerError(f"-lt {label_type}: claimed by two tasks ({owner[label_type]} and {task.name})")
            owner[label_type] = task.name
    return found


def label_types() -> tuple[str, ...]:
    """Every ``-lt`` value, task by task."""
    return tuple(lt for task in tasks() for lt in task.label_types)


def tables() -> dict[str, Table]:
    """``{compare --table name: Table}`` of every registered task."""
    found: dict[str, Table] = {}
    for task in tasks():
        for table in task.all_tables:
            if table.name in found and found[table.name] != table:
                raise MmerError(f"table {table.name!r}: declared differently by two tasks")
            found[table.name] = table
    return found


def table_files() -> dict[str, str]:
    """``{table name: file name}`` (``presence`` -> ``classification_presence.csv``)."""
    return {name: table.file for name, table in tables().items()}


def default_metrics() -> dict[str, str]:
    """``{table name: the metric compare ranks it by}``."""
    return {name: table.metric for name, table in tables().items()}


def table_for_family(family: str) -> Table | None:
    """The table whose file stem is ``family`` (``classification_presence``), or ``None``."""
    return next((table for table in tables().values() if table.family == family), None)


def for_label_type(label_type: str) -> Task:
    for task in tasks():
        if label_type in task.label_types:
            return task
    raise MmerError(f"-lt/--label_type: unknown label type {label_type!r}; choose one of {', '.join(label_types())}")


def supported_tasks(label_names, classes=()) -> tuple[str, ...]:
    schema = LabelSchema(tuple(label_names), tuple(classes))
    return tuple(task.name for task in tasks() if task.supports(schema))


def check_supported(label_type: str, schema: LabelSchema, corpus: str) -> Task:
    """The task for ``-lt label_type``, or a one-line error naming the corpus and the task."""
    task = for_label_type(label_type)
    if not task.supports(schema):
        allowed = [lt for t in tasks() if t.supports(schema) for lt in t.label_types]
        raise MmerError(
            f"corpus {corpus} has no labels for task {task.name} (-lt {label_type}); it has "
            f"{', '.join(schema.label_names) or 'no labels'}, so use -lt {' / '.join(allowed) or '?'}"
        )
    return task


def __getattr__(name: str):
    # TASKS / LABEL_TYPES read like the constants they were; they are computed from the registry.
    if name == "TASKS":
        return tasks()
    if name == "LABEL_TYPES":
        return label_types()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["LabelSchema", "Table", "Task", "tasks", "label_types", "tables", "table_files", "default_metrics",
           "table_for_family", "for_label_type", "supported_tasks", "check_supported"]
