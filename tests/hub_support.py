"""Tiny SavedModels with the signatures of the TF Hub encoders we document, built in the test.

Each mirrors its real model's call convention (input dtype/rank, output structure and key names),
not its weights: YAMNet (waveform [None] -> (scores, embeddings, log-mel)), TRILLsson (waveform
[batch, samples] -> {"embedding": [batch, D]}), Universal Sentence Encoder (strings [None] ->
[None, D]), BERT preprocess (strings -> input_word_ids/input_mask/input_type_ids) + encoder
(-> pooled_output/sequence_output), and an image feature vector ([None, H, W, 3] -> [None, D]).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

YAMNET_DIM, USE_DIM, BERT_DIM, IMAGE_DIM, TRILL_DIM = 8, 16, 12, 10, 6
BERT_SEQ = 8
IMAGE_SIZE = 32


def _weights(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def build_all(root: Path, names: tuple[str, ...] | None = None) -> dict[str, Path]:
    """Save the tiny models named in ``names`` (all by default) under ``root``; returns name -> folder."""
    import tensorflow as tf

    root = Path(root)
    paths = {}

    class Yamnet(tf.Module):
        def __init__(self):
            self.w = tf.Variable(_weights((16, YAMNET_DIM), 0))
            self.s = tf.Variable(_weights((YAMNET_DIM, 5), 1))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def __call__(self, waveform):
            # 0.96 s patches every 0.48 s, like YAMNet (padded so a short clip still gives one patch).
            patches = tf.signal.frame(waveform, 15360, 7680, pad_end=True)
            embeddings = tf.matmul(tf.abs(patches[:, ::960]), self.w)
            scores = tf.sigmoid(tf.matmul(embeddings, self.s))
            spectrogram = tf.math.log(tf.abs(tf.signal.frame(waveform, 400, 160, pad_end=True)[:, :64]) + 1e-3)
            return scores, embeddings, spectrogram

    class Trillsson(tf.Module):
        def __init__(self):
            self.w = tf.Variable(_weights((1, TRILL_DIM), 2))

        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32)])
        def __call__(self, audio):
            energy = tf.reduce_mean(tf.abs(audio), axis=1, keepdims=True)
            return {"embedding": tf.matmul(energy, self.w)}

    class Use(tf.Module):
        def __init__(self):
            self.table = tf.Variable(_weights((1000, USE_DIM), 3))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def __call__(self, strings):
            tokens = tf.strings.split(tf.strings.lower(strings))
            ids = tf.strings.to_hash_bucket_fast(tokens, 1000)
            return tf.math.reduce_mean(tf.ragged.map_flat_values(tf.gather, self.table, ids), axis=1)

    class BertPreprocess(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def __call__(self, strings):
            tokens = tf.strings.split(tf.strings.lower(strings))
            ids = tf.cast(tf.strings.to_hash_bucket_fast(tokens, 997), tf.int32) + 3
            batch = tf.shape(strings)[0]
            cls = tf.fill([batch, 1], 1)
            sep = tf.fill([batch, 1], 2)
            ids = tf.concat([cls, ids[:, :BERT_SEQ - 2], sep], axis=1)
            word_ids = ids.to_tensor(default_value=0, shape=[None, BERT_SEQ])
            mask = tf.cast(word_ids > 0, tf.int32)
            return {"input_word_ids": word_ids, "input_mask": mask, "input_type_ids": tf.zeros_like(word_ids)}

    class BertEncoder(tf.Module):
        def __init__(self):
            self.table = tf.Variable(_weights((1000, BERT_DIM), 4))

        @tf.function(input_signature=[{
            "input_word_ids": tf.TensorSpec([None, None], tf.int32),
            "input_mask": tf.TensorSpec([None, None], tf.int32),
            "input_type_ids": tf.TensorSpec([None, None], tf.int32)}])
        def __call__(self, inputs):
            seq = tf.tanh(tf.gather(self.table, inputs["input_word_ids"]))
            return {"pooled_output": seq[:, 0], "sequence_output": seq, "default": seq[:, 0]}

    class Image(tf.Module):
        def __init__(self):
            self.w = tf.Variable(_weights((3, IMAGE_DIM), 5))

        @tf.function(input_signature=[tf.TensorSpec([None, IMAGE_SIZE, IMAGE_SIZE, 3], tf.float32)])
        def __call__(self, images):
            return tf.matmul(tf.reduce_mean(images, axis=[1, 2]), self.w)

    for name, module in (("yamnet", Yamnet()), ("trillsson", Trillsson()), ("use", Use()),
                         ("bert_preprocess", BertPreprocess()), ("bert_encoder", BertEncoder()),
                         ("image", Image())):
        if names is not None and name not in names:
            continue
        path = root / name
        tf.saved_model.save(module, str(path))
        paths[name] = path
    return paths
