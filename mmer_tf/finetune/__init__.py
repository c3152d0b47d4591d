"""Fine-tuning a pretrained encoder inside the model: ``--finetune vision=kh:<preset>:<N>``.

Why a package of its own: every other route to a pretrained encoder (``--video_recipe kh:<preset>``)
runs it once, frozen, and caches its features; fine-tuning must instead run the encoder in every training
step, so the pipeline has to carry what the encoder reads (face crops) rather than features, and the model
has to hold the encoder. The rest of the suite (tasks, tables, resume, distribution, predict) is unchanged:
the fine-tuned stream is one more input of the chosen model.

- ``spec``: the flag's syntax and checks (no Keras);
- ``blocks``: what "the top N blocks" of a backbone family is, and freezing the rest;
- ``frames``: decode, face-crop and resize each clip's frames once into a uint8 cache in ``-pf``;
- ``stream``: the tf.data side, reading a batch's cached frames from disk (memory flat in corpus size);
- ``model``: the backbone per frame, positional encoding and a transformer over time, then the chosen model;
- ``run``: the hooks ``experiment`` and ``predict`` call.

The serialisable layer (:class:`mmer_tf.models.blocks.frames.FrameSequenceEncoder`) lives with the other
blocks, so ``train.load_model`` registers it like every other layer.
"""

from mmer_tf.finetune.spec import FinetuneSpec, check_config, parse, specs_of

__all__ = ["FinetuneSpec", "check_config", "parse", "specs_of"]
