"""``python -m mmer_tf.search``: see :mod:`mmer_tf.search.cli`."""

import sys

from mmer_tf.search.cli import entry

if __name__ == "__main__":
    from mmer_tf.native_logs import filter_native_stderr

    filter_native_stderr(sys.argv)  # native libraries' log lines off the terminal, workers included
    sys.exit(entry(sys.argv[1:]))
