"""Why clips left a corpus on its way to segments: a count per reason and a few examples of each.

Every loader of a featurized folder (:func:`mmer_tf.data.corpora.media.segments_from_folder`,
:func:`mmer_tf.data.corpora.frame_axis.frame_segments`) reports its drops this way, in the run's summary
(``dropped``, ``dropped_examples``) and in the log, so a user reads them alike whatever the corpus.
"""

from __future__ import annotations

from collections import Counter

EXAMPLES = 5  # kept per reason: the summary is written into every fold's cache manifest


class Dropped:
    """Counts per reason, with up to :data:`EXAMPLES` names each."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.examples: dict[str, list[str]] = {}

    def add(self, reason: str, name: str, count: int = 1) -> None:
        self.counts[reason] += count
        names = self.examples.setdefault(reason, [])
        if len(names) < EXAMPLES:
            names.append(name)

    def summary(self) -> dict:
        """The ``dropped`` and ``dropped_examples`` entries of a loader's summary."""
        return {"dropped": dict(self.counts), "dropped_examples": {k: list(v) for k, v in self.examples.items()}}

    def log(self, log, what: str) -> None:
        """One line per reason on the loader's ``log``: ``dropped 3 clip(s): <reason> (e.g. a, b, c)``."""
        for reason, count in sorted(self.counts.items()):
            log.info("dropped %d %s: %s (e.g. %s)", count, what, reason, ", ".join(self.examples[reason][:3]))
