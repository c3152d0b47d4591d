"""On-disk formats that both ``features/`` (which writes them) and ``data/`` (which reads them) use.

``csd``: SDK-format HDF5 computational sequences. ``featurized``: the featurized folder a raw-media
corpus becomes (the ``.csd`` files, ``recipe.json``, ``clips.csv``, ``featurized.json``). Neither imports
anything above it, so the featurizer and the corpus adapters share one definition of each format.
"""
