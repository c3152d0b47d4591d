"""``python -m mmer_tf.results record FILE...``: add saved runs' rows to their tables."""

from mmer_tf.results.unrecorded import main

raise SystemExit(main())
