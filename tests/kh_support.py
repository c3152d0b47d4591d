"""Tiny KerasHub presets built from configs with random (seeded) weights, saved with ``save_to_preset``.

Nothing is downloaded: each backbone is constructed from its config, its preprocessing layer (tokenizer,
image converter, audio converter) is built from arguments, and both are written to a local folder,
which is exactly what a ``kh:<folder>`` recipe reads.
"""

from __future__ import annotations

from pathlib import Path

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "kids", "are", "talk", "##ing", "by", "the", "door",
         "dogs", "sitting", "happy", "sad"]
IMAGE_SIZE = 32
AUDIO_WINDOW_S = 2  # the converter's window: a longer clip is encoded in windows


def bert(folder: Path, seed: int = 0) -> Path:
    import keras
    from keras_hub.models import BertBackbone, BertTokenizer

    keras.utils.set_random_seed(seed)
    backbone = BertBackbone(vocabulary_size=len(VOCAB), num_layers=2, num_heads=2, hidden_dim=8,
                            intermediate_dim=16, max_sequence_length=8)
    backbone.save_to_preset(str(folder))
    BertTokenizer(vocabulary=VOCAB, lowercase=True).save_to_preset(str(folder))
    return Path(folder)


def resnet(folder: Path, seed: int = 0) -> Path:
    import keras
    from keras_hub.layers import ResNetImageConverter
    from keras_hub.models import ResNetBackbone

    keras.utils.set_random_seed(seed)
    backbone = ResNetBackbone(input_conv_filters=[64], input_conv_kernel_sizes=[3], stackwise_num_filters=[64, 16],
                              stackwise_num_blocks=[1, 1], stackwise_num_strides=[1, 2], block_type="basic_block",
                              image_shape=(IMAGE_SIZE, IMAGE_SIZE, 3))
    backbone.save_to_preset(str(folder))
    ResNetImageConverter(image_size=(IMAGE_SIZE, IMAGE_SIZE), scale=1 / 255.0).save_to_preset(str(folder))
    return Path(folder)


def vit(folder: Path, seed: int = 0) -> Path:
    import keras
    from keras_hub.layers import ViTImageConverter
    from keras_hub.models import ViTBackbone

    keras.utils.set_random_seed(seed)
    backbone = ViTBackbone(image_shape=(IMAGE_SIZE, IMAGE_SIZE, 3), patch_size=8, num_layers=3, num_heads=2,
                           hidden_dim=8, mlp_dim=16)
    backbone.save_to_preset(str(folder))
    ViTImageConverter(image_size=(IMAGE_SIZE, IMAGE_SIZE), scale=1 / 255.0).save_to_preset(str(folder))
    return Path(folder)


def whisper(folder: Path, seed: int = 0, num_layers: int = 1) -> Path:
    import keras
    from keras_hub.layers import WhisperAudioConverter
    from keras_hub.models import WhisperBackbone

    keras.utils.set_random_seed(seed)
    backbone = WhisperBackbone(vocabulary_size=20, num_layers=num_layers, num_heads=2, hidden_dim=8,
                               intermediate_dim=16,
                               num_mels=16, max_encoder_sequence_length=AUDIO_WINDOW_S * 100,
                               max_decoder_sequence_length=8)
    backbone.save_to_preset(str(folder))
    WhisperAudioConverter(num_mels=16, max_audio_length=AUDIO_WINDOW_S).save_to_preset(str(folder))
    return Path(folder)
