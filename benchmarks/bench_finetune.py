"""Memory of fine-tuning a vision backbone inside the model (``--finetune vision=kh:<preset>:<N>``).

Why: how many clips fit in one training batch is set by the backbone's activations on every frame, which
only a measurement gives. This builds ResNet-18's architecture from its config (random weights: nothing is
downloaded; the memory does not depend on the weights), wraps it as the suite does (``mmer_tf.finetune.model``:
backbone per frame, transformer over time, ``lf_dnn``), and runs training steps on ``--clips`` clips of
``--frames`` frames of ``--size`` pixels with the top ``--blocks`` blocks trainable. It prints the process's
resident memory before the first step and its peak after two steps (``ru_maxrss``), in MB. Run it at two
frame counts in fresh processes: the difference of the peaks over the difference of frames is the memory one
more frame costs in training (fixed costs such as the weights and the traced graph cancel).

    python benchmarks/bench_finetune.py --clips 2 --frames 4 --blocks 2
    python benchmarks/bench_finetune.py --clips 2 --frames 16 --blocks 2
    python benchmarks/bench_finetune.py --clips 2 --whisper_seconds 2 --blocks 2   # Whisper base's encoder
    python benchmarks/bench_finetune.py --clips 2 --whisper_seconds 8 --blocks 2
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=2)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--whisper_seconds", type=float, default=0,
                        help="measure Whisper base's encoder (6 layers, width 512) on clips of this many seconds "
                             "(100 log-mel frames a second) instead of ResNet-18 on frames")
    args = parser.parse_args()
    if args.whisper_seconds:
        return whisper(args)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np
    from keras_hub.layers import ResNetImageConverter
    from keras_hub.models import ResNetBackbone

    from mmer_tf.config import ExperimentConfig
    from mmer_tf.finetune import frames, model, top_blocks
    from mmer_tf.finetune.run import Encoder
    from mmer_tf.finetune.spec import FinetuneSpec

    keras.utils.set_random_seed(0)
    backbone = ResNetBackbone(input_conv_filters=[64], input_conv_kernel_sizes=[7],
                              stackwise_num_filters=[64, 128, 256, 512], stackwise_num_blocks=[2, 2, 2, 2],
                              stackwise_num_strides=[1, 2, 2, 2], block_type="basic_block",
                              image_shape=(args.size, args.size, 3))  # ResNet-18
    converter = ResNetImageConverter(image_size=(args.size, args.size), scale=1 / 255.0)
    trained, frozen = top_blocks.train_top(backbone, "resnet18", args.blocks)
    encoder = Encoder(FinetuneSpec("vision", "resnet18", args.blocks), backbone, converter,
                      frames.FrameParams(size=args.size, fps=5.0, face_crop=True), trained, frozen)
    config = ExperimentConfig(model_name="lf_dnn", label_type="category", final_activ="softmax")
    net = model.build(config, {}, {"vision": encoder}, 2, aligned=True)
    net.compile(optimizer="adam", loss="categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = {"vision": rng.integers(0, 256, (args.clips, args.frames, args.size, args.size, 3), dtype=np.uint8),
         "vision_mask": np.ones((args.clips, args.frames), np.float32)}
    y = keras.utils.to_categorical(rng.integers(0, 2, args.clips), 2)
    before = rss_mb()
    net.fit(x, y, batch_size=args.clips, epochs=2, verbose=0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    params = sum(int(np.prod(v.shape)) for v in backbone.trainable_weights)
    print(f"clips {args.clips} frames {args.frames} size {args.size} blocks {args.blocks} "
          f"(trainable backbone params {params}): rss before {before:.0f} MB, peak {peak:.0f} MB, "
          f"frame cache {args.clips * frames.FrameParams(args.size, 5.0, True).nbytes(args.frames) / 1e6:.1f} MB")


def whisper(args) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np
    from keras_hub.layers import WhisperAudioConverter
    from keras_hub.models import WhisperBackbone

    from mmer_tf.config import ExperimentConfig
    from mmer_tf.finetune import frames, model, top_blocks
    from mmer_tf.finetune.run import Encoder, _encoder_half
    from mmer_tf.finetune.spec import FinetuneSpec

    keras.utils.set_random_seed(0)
    backbone = WhisperBackbone(vocabulary_size=51864, num_layers=6, num_heads=8, hidden_dim=512,
                               intermediate_dim=2048, num_mels=80, max_encoder_sequence_length=3000,
                               max_decoder_sequence_length=448)  # Whisper base's configuration
    trained, frozen = top_blocks.train_top(backbone, "whisper_base", args.blocks, "audio")
    converter = WhisperAudioConverter(num_mels=80)
    encoder = Encoder(FinetuneSpec("audio", "whisper_base", args.blocks), _encoder_half(backbone), converter,
                      frames.MelParams.of(converter), trained, frozen)
    config = ExperimentConfig(model_name="lf_dnn", label_type="category", final_activ="softmax")
    net = model.build(config, {}, {"audio": encoder}, 2, aligned=True)
    net.compile(optimizer="adam", loss="categorical_crossentropy")
    steps = int(args.whisper_seconds * 100)
    rng = np.random.default_rng(0)
    x = {"audio": rng.normal(size=(args.clips, steps, 80)).astype(np.float32),
         "audio_mask": np.ones((args.clips, steps), np.float32)}
    y = keras.utils.to_categorical(rng.integers(0, 2, args.clips), 2)
    before = rss_mb()
    net.fit(x, y, batch_size=args.clips, epochs=2, verbose=0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    params = sum(int(np.prod(v.shape)) for v in encoder.backbone.trainable_weights)
    print(f"clips {args.clips} seconds {args.whisper_seconds} blocks {args.blocks} (trainable encoder params "
          f"{params}): rss before {before:.0f} MB, peak {peak:.0f} MB, "
          f"mel cache {args.clips * steps * 80 * 4 / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
