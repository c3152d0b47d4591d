"""Text encoders: transcript -> ``(intervals [T, 2] s, features [T, D] float32)`` over the clip's duration.

Offline default (``offline``): one 256-dim vector per word, the signed sum of hashed character
3- to 5-grams of ``<word>`` plus the whole word (fastText's subword scheme, with CRC-32 as the hash,
so it is identical on every machine and run and needs no vocabulary), L2-normalised. Why this: runs
never download, and no pretrained embedding ships with the suite; hashed n-grams still give every
word a stable identity (so a model learns "furious" -> anger from the training labels), spell
variants share n-grams ("soooo"/"so"), and unknown words never fall out. Word timings are not
known from a transcript alone, so the words are spread evenly over the clip (CMU-MOSEI's text is
word-level too, which keeps the aligned view meaningful).

``hub:<path>``: Universal Sentence Encoder style (strings ``[None]`` -> ``[None, D]``), one row
spanning the clip. ``hub:<preprocess>,<encoder>``: a BERT pair; ``pooled_output`` (default) gives one
row per utterance, ``sequence_output`` one row per real token (mask 1), spread evenly over the clip.

``vader``: VADER's lexicon and rules per word plus the utterance's scores (``features/vader.py``);
``kh:<preset>``: a KerasHub text backbone's token states averaged per word (``features/kh.py``); both
give one row per word on the same intervals as the offline recipe.
"""

from __future__ import annotations

import re
import zlib

import numpy as np

from mmer_tf.features import hub
from mmer_tf.features.recipe import Recipe, hub_paths

TEXT_DIM = 256
NGRAMS = (3, 4, 5)
_WORD = re.compile(r"[\w']+", re.UNICODE)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _hash(token: str) -> tuple[int, float]:
    h = zlib.crc32(token.encode("utf-8"))
    return h % TEXT_DIM, (1.0 if (h >> 31) & 1 else -1.0)


def word_vector(word: str) -> np.ndarray:
    vec = np.zeros(TEXT_DIM, dtype=np.float32)
    marked = f"<{word}>"
    grams = [f"w:{word}"] + [marked[i:i + n] for n in NGRAMS for i in range(len(marked) - n + 1)]
    for gram in grams:
        index, sign = _hash(gram)
        vec[index] += sign
    norm = float(np.linalg.norm(vec))
    return vec / norm if norm > 0 else vec


def spread(count: int, duration: float) -> np.ndarray:
    """``count`` equal, contiguous intervals covering ``[0, duration]``."""
    edges = np.linspace(0.0, duration, count + 1)
    return np.stack([edges[:-1], edges[1:]], axis=1)


def offline(text: str, duration: float) -> tuple[np.ndarray, np.ndarray]:
    tokens = words(text)
    if not tokens:
        return spread(1, duration), np.zeros((1, TEXT_DIM), dtype=np.float32)
    return spread(len(tokens), duration), np.stack([word_vector(w) for w in tokens])


def hub_text(text: str, duration: float, recipe: Recipe) -> tuple[np.ndarray, np.ndarray]:
    import tensorflow as tf

    flag = "--text"
    paths = hub_paths(recipe.text, flag)
    strings = tf.constant([text])
    if len(paths) == 2:
        preprocess, encoder = hub.load(paths[0], flag), hub.load(paths[1], flag)
        inputs = hub.call(preprocess, strings)
        outputs = hub.call(encoder, inputs)
        key = recipe.text_output_key or "pooled_output"
        out = hub.select_output(outputs, key, flag)[0]
        if key == "sequence_output" or out.ndim == 2:
            mask = np.asarray(inputs["input_mask"])[0].astype(bool) if "input_mask" in inputs else None
            rows = out[mask] if mask is not None else out
            return spread(len(rows), duration), rows
        return spread(1, duration), out[np.newaxis]
    model = hub.load(paths[0], flag)
    out = hub.select_output(hub.call(model, strings), recipe.text_output_key, flag)
    if out.ndim == 3:  # a per-token encoder: [1, tokens, D]
        out = out[0]
        return spread(len(out), duration), out
    return spread(1, duration), out.reshape(1, -1)


def encode_text(text: str, duration: float, recipe: Recipe) -> tuple[np.ndarray, np.ndarray]:
    """Run the recipe's text encoder (its kind, ``features/kinds/``)."""
    from mmer_tf.features import kinds

    intervals, features = kinds.encoder("text", recipe.text)(text, duration, recipe)
    return intervals, np.ascontiguousarray(features, dtype=np.float32)
