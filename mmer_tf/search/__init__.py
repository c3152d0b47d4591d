"""Hyper-parameter search selected on validation: ``python -m mmer_tf search --space SPACE.yaml --trials N``.

::

    python -m mmer_tf search --space SPACE.yaml --trials N [--final_seeds K] [--study NAME] [--storage PATH]
                             [--sampler tpe|random|grid] [--no_pruning] [main.py flags ...]

An Optuna study whose objective is one normal run of the suite with the trial's flags
(:mod:`mmer_tf.search.study`); the space file is described in :mod:`mmer_tf.search.space`; the journal,
locking and ``trials.csv`` in :mod:`mmer_tf.search.journal`; the final print in
:mod:`mmer_tf.search.summary`. The command line is :mod:`mmer_tf.cli.search`.
"""
