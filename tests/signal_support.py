"""Child processes that can be interrupted, whatever the test runner's own signal dispositions.

A shell starts a background job (``pytest ... &`` in a script, as batch schedulers do) with SIGINT
ignored, children inherit that, and Python keeps an inherited SIG_IGN instead of raising
KeyboardInterrupt: a test that delivers SIGINT to such a child would see it ignored. Tests that deliver
signals pass ``preexec_fn=default_signals`` so the child starts with the disposition a terminal gives.
"""

from __future__ import annotations

import signal


def default_signals() -> None:
    """Run in the child before exec: SIGINT (and SIGTERM) back to their default action."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
