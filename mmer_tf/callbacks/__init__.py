"""Keras callbacks of the suite beyond the training basics in :mod:`mmer_tf.train`, one class per file.

- :class:`~mmer_tf.callbacks.pruning.TrialPruning`: reports the validation metric to an Optuna trial
  after every epoch and stops a trial the pruner gives up on (``python -m mmer_tf search``);
- :class:`~mmer_tf.callbacks.tensorboard.TensorBoardLog`: ``main.py --tensorboard``'s per-epoch
  scalars and, once the run is recorded, its HParams summary and test metrics.

Importing this package imports neither Optuna nor TensorFlow; each module imports what it needs.
"""
