"""Keep TensorFlow's native start-up chatter off the terminal.

TensorFlow 2.21 prints notices from C++ (oneDNN, missing CUDA drivers) straight to file descriptor 2
before its logging is initialised, so ``TF_CPP_MIN_LOG_LEVEL`` cannot silence them. They bury the one
line a user needs (a progress line, or ``error: ...``). :func:`import_backend_quietly` imports Keras (and
with it TensorFlow) and initialises the devices with descriptor 2 pointed at a temporary file; if the
import fails, what was captured is replayed so a real native error is never hidden. Set
``MMER_NATIVE_LOGS=1`` to see everything.
"""

from __future__ import annotations

import os
import sys
import tempfile


def import_backend_quietly() -> None:
    if os.environ.get("MMER_NATIVE_LOGS") == "1":
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import keras

            if keras.backend.backend() == "tensorflow":
                import tensorflow as tf

                tf.config.list_logical_devices()
        except BaseException:
            os.dup2(saved, 2)
            capture.seek(0)
            sys.stderr.write(capture.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
