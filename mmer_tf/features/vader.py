"""VADER sentiment as text features (``--text vader``): a real, rule-based lexicon with no download.

Why: the ``vaderSentiment`` wheel ships a human-rated lexicon of about 7,500 words and emoticons
(valence -4..4) and rules for negation, boosters, capitals and "but"; its scores are a standard
sentiment baseline, and emotion corpora carry much of their label in such words. The transcript is
split into words exactly as the offline recipe splits it (same rows, same intervals spread over the
clip), and each word's row holds:

0. the word's lexicon valence / 4 (0 for a word not in the lexicon)
1. 1 when the word is in the lexicon
2. the word's booster weight (VADER's ``BOOSTER_DICT``: +0.293 "very", -0.293 "barely"; else 0)
3. 1 when the word is a negation ("not", "never", "n't" forms)
4-7. the whole utterance's ``polarity_scores``: neg, neu, pos, compound (the same on every row, so
   the aligned view's mean keeps them and a word-level model still sees the context rules' result)

An empty transcript gives one row spanning the clip with zeros in 0-3.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from mmer_tf.errors import MmerError

VADER_DIM = 8


@lru_cache(maxsize=1)
def _analyzer():
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError:
        raise MmerError("--text vader: the vaderSentiment package is not installed "
                        "(pip install vaderSentiment==3.3.2)") from None
    return SentimentIntensityAnalyzer()


def word_rows(words: list[str], text: str) -> np.ndarray:
    """``[max(1, len(words)), 8]`` float32: per-word lexicon features + the utterance's scores."""
    from vaderSentiment.vaderSentiment import BOOSTER_DICT, negated

    analyzer = _analyzer()
    scores = analyzer.polarity_scores(text)
    utterance = [scores["neg"], scores["neu"], scores["pos"], scores["compound"]]
    rows = []
    for word in words:
        lower = word.lower()
        valence = analyzer.lexicon.get(lower)
        rows.append([
            (valence or 0.0) / 4.0,
            1.0 if valence is not None else 0.0,
            float(BOOSTER_DICT.get(lower, 0.0)),
            1.0 if negated([lower]) else 0.0,
            *utterance,
        ])
    if not rows:
        rows.append([0.0, 0.0, 0.0, 0.0, *utterance])
    return np.asarray(rows, dtype=np.float32)
