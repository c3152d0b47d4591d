"""Hyper-parameter declarations shared by several models (TFN's embedding sub-networks, reused by ``lmf``;
the recurrent stacks of ``ef_lstm`` and ``lf_lstm``).

Kept apart from :mod:`encoders`, which builds Keras layers: ``main.py`` defines a flag per hyper-parameter
and validates them before it imports Keras, so a typo or ``--help`` costs no backend import.
"""

from __future__ import annotations

from mmer_tf.models.registry import HParam

SUBNETWORK_HPARAMS = {
    "text_hidden": HParam(128, "size of the text embedding (LSTM units and the dense layer after it)", minimum=1),
    "audio_hidden": HParam(32, "size of the acoustic embedding (units of its mean-pooled DNN)", minimum=1),
    "vision_hidden": HParam(32, "size of the visual embedding (units of its mean-pooled DNN)", minimum=1),
    "sub_layers": HParam(3, "hidden layers of the acoustic/visual mean-pooled DNNs"),
}


def recurrent_hparams(what: str) -> dict:
    """``units`` and ``bidirectional`` of a masked (Bi)LSTM stack reading ``what`` (``ef_lstm``, ``lf_lstm``)."""
    return {
        "units": HParam(64, f"LSTM units per direction in each recurrent layer reading {what} "
                            "(-l sets the number of layers)", minimum=1),
        "bidirectional": HParam(True, f"read {what} in both directions (BiLSTM)"),
    }
