"""What a run does when the user left it to the data: the task (``-lt``), its head, and the modalities.

``-lt`` defaults to ``all`` (the seed's CMU-MOSEI emotions), which only a corpus with those six emotion
columns has. When ``-lt`` was not typed the corpus decides: the first registered task its label
columns support (the emotion task first, so CMU-MOSEI and the built-in sample keep ``all``; a RAVDESS,
MELD or labelled feature folder gets ``category``, CMU-MOSI ``sentiment``), with the task's own head
(``-a``) unless that was typed too. An adapter may also name the modalities it is worth training on by
default (``DEFAULT_MODALITIES`` and ``DEFAULT_MODALITIES_WHY`` in its module): RAVDESS's transcript is
one of two fixed sentences whatever the emotion, so it defaults to audio and vision. Each choice is
logged with its reason. ``ExperimentConfig.from_data`` lists the fields the user left open.
"""

from __future__ import annotations

import logging

from mmer_tf.config import ExperimentConfig

log = logging.getLogger("mmer_tf")


def follow_corpus(config: ExperimentConfig, adapter, corpus) -> ExperimentConfig:
    """``config`` with the fields in ``config.from_data`` chosen for ``corpus`` (a ``CorpusInfo``)."""
    from mmer_tf import tasks

    changes = {}
    if "label_type" in config.from_data:
        schema = tasks.LabelSchema(tuple(corpus.label_names), tuple(corpus.classes))
        fitting = [task for task in tasks.tasks() if task.supports(schema)]
        if fitting and config.label_type not in [lt for task in fitting for lt in task.label_types]:
            chosen = fitting[0].label_types[0]
            changes["label_type"] = chosen
            log.info("task: -lt %s (-lt not given; corpus %s has %s, not the labels of -lt %s)", chosen,
                     corpus.name, ", ".join(corpus.label_names) or "no labels", config.label_type)
        elif fitting:
            log.info("task: -lt %s (-lt not given; corpus %s has its labels)", config.label_type, corpus.name)
        if "label_type" in changes and "final_activ" in config.from_data:
            probe = config.replace(label_type=changes["label_type"])
            changes["final_activ"] = tasks.for_label_type(changes["label_type"]).default_activation(probe)
    preferred = tuple(getattr(adapter, "DEFAULT_MODALITIES", ()) or ())
    if "modalities" in config.from_data and preferred and tuple(config.modalities) != preferred:
        changes["modalities"] = preferred
        log.info("modalities: %s (--modalities not given; %s)", ",".join(preferred),
                 getattr(adapter, "DEFAULT_MODALITIES_WHY", f"the {corpus.name} default"))
    return config.replace(**changes) if changes else config
