"""``opensmile:<set>[:lld|:functionals]`` (audio): openSMILE's feature sets (``features/smile.py``).

LLDs are rows with openSMILE's own start/end times; functionals one row spanning the clip.
"""

from __future__ import annotations

from mmer_tf.errors import MmerError
from mmer_tf.features.kinds import RecipeKind

SETS = ("eGeMAPSv02", "GeMAPSv01b", "ComParE_2016", "eGeMAPSv01b")
LEVELS = ("lld", "functionals")


def _check(modality: str, spec: str, flag: str) -> None:
    parts = spec.split(":")
    if len(parts) not in (2, 3) or parts[1] not in SETS:
        raise MmerError(f"{flag} {spec}: expected opensmile:<set>[:lld|:functionals] with set one of "
                        f"{', '.join(SETS)}")
    if len(parts) == 3 and parts[2] not in LEVELS:
        raise MmerError(f"{flag} {spec}: level must be one of {', '.join(LEVELS)}")


def _audio(wave, recipe):
    from mmer_tf.features import smile

    parts = recipe.audio.split(":")
    return smile.opensmile_features(wave, parts[1], parts[2] if len(parts) == 3 else "lld")


KIND = RecipeKind(name="opensmile", syntax={"audio": "opensmile:<set>[:lld|:functionals]"}, check=_check,
                  audio=_audio, doc="openSMILE LLDs or functionals")
