"""mmer_tf: a Keras/TensorFlow experiment suite for multimodal emotion recognition."""

__version__ = "0.1.0"
