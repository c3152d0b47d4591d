"""``python -m mmer_tf.search``: see :mod:`mmer_tf.search.cli`."""

import sys

from mmer_tf.search.cli import entry

if __name__ == "__main__":
    sys.exit(entry(sys.argv[1:]))
