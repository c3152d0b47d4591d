"""Raw media -> per-clip feature sequences with real time intervals -> SDK-format ``.csd`` files.

The raw-media half of the data flow: :func:`featurize` turns a corpus of :class:`Clip` s into
``text.csd``/``audio.csd``/``vision.csd`` that the CMU-MOSEI path (alignment, cache, models, tables)
reads unchanged; :func:`featurize_clip` does one clip for ``predict``. Encoders are chosen by a
:class:`Recipe` (offline defaults, TF Hub SavedModels by local path, openSMILE). This package may use
TensorFlow (lazily, only in the encoders that need it); ``mmer_tf.data`` never does.
"""

from mmer_tf.features.extract import featurize_clip
from mmer_tf.features.corpus import featurize
from mmer_tf.features.media import MediaError
from mmer_tf.features.recipe import Clip, Recipe

__all__ = ["Clip", "Recipe", "featurize", "featurize_clip", "MediaError"]
