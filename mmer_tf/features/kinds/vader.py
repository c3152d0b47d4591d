"""``vader`` (text): VADER's lexicon and rules per word plus the utterance's scores (``features/vader.py``).

One row per word on the offline recipe's intervals.
"""

from __future__ import annotations

from mmer_tf.features.kinds import RecipeKind


def _text(text, duration, recipe):
    from mmer_tf.features.text import spread, words
    from mmer_tf.features.vader import word_rows

    tokens = words(text)
    return spread(max(1, len(tokens)), duration), word_rows(tokens, text)


KIND = RecipeKind(name="vader", syntax={"text": "vader"}, text=_text, doc="VADER sentiment lexicon per word")
