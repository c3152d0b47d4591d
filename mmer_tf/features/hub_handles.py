"""TF Hub and Kaggle Models handles -> the local folder they were downloaded to (never a download).

Why: TF Hub's ``tfhub.dev/<publisher>/<model>/<version>`` handles now redirect to Kaggle Models
(``kaggle.com/models/<publisher>/<model>/<framework>/<variation>/<version>``), and model pages and papers
quote either form. A ``hub:`` recipe accepts both, plus a plain local path; a handle is looked up where
the two download tools put it, and an absent model is a one-line error saying where it was looked for:

- ``tensorflow_hub``: ``$TFHUB_CACHE_DIR`` (else ``<temp>/tfhub_modules``) ``/<sha1 of the handle>``;
  the handle is hashed as written with ``https://`` (the form ``hub.load`` is given), and also as given.
- ``kagglehub``: ``$KAGGLEHUB_CACHE`` (else ``~/.cache/kagglehub``)
  ``/models/<publisher>/<model>/<framework>/<variation>/<version>``. A ``tfhub.dev`` handle names no
  framework or variation, so every ``<framework>/<variation>`` folder of that model and version is a
  candidate; exactly one must hold a SavedModel.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mmer_tf.errors import MmerError

_TFHUB = re.compile(r"^(?:https?://)?(?:www\.)?tfhub\.dev/([^/?#]+)/([^?#]+?)/(\d+)/?(?:[?#].*)?$")
_KAGGLE = re.compile(r"^(?:https?://)?(?:www\.)?kaggle\.com/models/([^/]+)/([^/]+)/([^/]+)/([^/]+)/(\d+)/?$")


@dataclass(frozen=True)
class Handle:
    """A parsed model handle: ``source`` is ``tfhub`` or ``kaggle``; framework/variation only for Kaggle."""

    source: str
    publisher: str
    model: str
    version: str
    framework: str = ""
    variation: str = ""

    @property
    def url(self) -> str:
        """The canonical https URL (the string ``tensorflow_hub.load`` would be given)."""
        if self.source == "tfhub":
            return f"https://tfhub.dev/{self.publisher}/{self.model}/{self.version}"
        return (f"https://www.kaggle.com/models/{self.publisher}/{self.model}/{self.framework}/"
                f"{self.variation}/{self.version}")


def is_handle(text: str) -> bool:
    """True for anything that looks like a TF Hub / Kaggle Models address (parsed or not)."""
    return "://" in text or text.startswith(("tfhub.dev", "www.tfhub.dev", "kaggle.com", "www.kaggle.com"))


def parse(text: str, flag: str) -> Handle:
    """A tfhub.dev or kaggle.com/models handle, or a one-line error saying the two accepted forms."""
    text = text.strip()
    match = _TFHUB.match(text)
    if match:
        publisher, model, version = match.groups()
        return Handle("tfhub", publisher, model, version)
    match = _KAGGLE.match(text)
    if match:
        publisher, model, framework, variation, version = match.groups()
        return Handle("kaggle", publisher, model, version, framework, variation)
    raise MmerError(f"{flag} hub:{text}: not a model handle this suite reads; expected "
                    f"https://tfhub.dev/<publisher>/<model>/<version>, "
                    f"https://www.kaggle.com/models/<publisher>/<model>/<framework>/<variation>/<version>, "
                    f"or a local SavedModel folder")


def tfhub_cache_dir() -> Path:
    return Path(os.environ.get("TFHUB_CACHE_DIR") or Path(tempfile.gettempdir()) / "tfhub_modules")


def kagglehub_cache_dir() -> Path:
    return Path(os.environ.get("KAGGLEHUB_CACHE") or Path.home() / ".cache" / "kagglehub")


def candidates(handle: Handle, given: str) -> list[Path]:
    """Every folder the handle may have been downloaded to, most specific first."""
    found: list[Path] = []
    for text in dict.fromkeys([handle.url, given.strip()]):
        found.append(tfhub_cache_dir() / hashlib.sha1(text.encode("utf8")).hexdigest())
    models = kagglehub_cache_dir() / "models" / handle.publisher / handle.model
    if handle.source == "kaggle":
        found.append(models / handle.framework / handle.variation / handle.version)
    else:
        found.extend(sorted(models.glob(f"*/*/{handle.version}")))
    return found


def resolve(text: str, flag: str) -> Path:
    """The local SavedModel folder of a handle; a one-line error naming where it looked when absent."""
    handle = parse(text, flag)
    looked = candidates(handle, text)
    hits = list(dict.fromkeys(p for p in looked if (p / "saved_model.pb").is_file()))
    if len(hits) > 1 and handle.source == "tfhub":
        raise MmerError(f"{flag} hub:{text}: several downloaded variations match ({', '.join(map(str, hits))}); "
                        f"pass the Kaggle handle or the folder")
    if hits:
        return hits[0]
    where = ", ".join(str(p) for p in looked) or str(kagglehub_cache_dir())
    raise MmerError(f"{flag} hub:{text}: not downloaded on this machine (looked in {where}); runs never "
                    f"download: fetch it once (tensorflow_hub.load or kagglehub.model_download) or pass "
                    f"'hub:<local folder>'")
