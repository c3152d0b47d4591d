"""Keep the native libraries' log lines (TensorFlow, XLA, absl, CUDA stubs, oneDNN) off the terminal.

TensorFlow 2.21 prints notices from C++ straight to file descriptor 2: at start-up, before its logging is
initialised (so ``TF_CPP_MIN_LOG_LEVEL`` cannot silence them), and during training (``E0000 ...
util.cc:131] oneDNN supports DT_BOOL only on platforms with AVX-512 ...`` in the middle of the epoch
log). They bury the lines a user needs (progress, results, ``error: ...``).

Two tools:

- :func:`filter_native_stderr`, called first thing by every command-line entry point: descriptor 2 is
  redirected through a small filter process (this file run as a script) that drops the native libraries'
  log lines (absl/glog ``I/W/E`` prefixed lines, TensorFlow's older dated form, the CPU-feature
  notice) and passes everything else through unchanged and unbuffered (progress bars included). Worker
  processes inherit descriptor 2, so their native lines are filtered too. Fatal (``F``) lines always
  pass: they explain a crash. ``--verbose 2`` or ``MMER_NATIVE_LOGS=1`` leave descriptor 2 alone.
- :func:`import_backend_quietly`: imports Keras (and with it TensorFlow) with descriptor 2 captured; if
  the import fails, what was captured is replayed so a real native error is never hidden.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

# absl/glog:  E0000 00:00:1796397927.999103   11746 cuda_platform.cc:52] ...
# TF < 2.16: 2026-12-04 15:00:00.123456: W tensorflow/core/...cc:42] ...
NATIVE_LINE = re.compile(
    rb"^(?:[IWE]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^\s\]]+:\d+\] "
    rb"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWE] [^\s\]]+:\d+\] "
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler flags\.)"
)
# A partial line that may still turn out to be one of the above is held until its end arrives.
_MAYBE_NATIVE = re.compile(rb"^(?:[IWE]\d{0,4}(?: |$)|\d{1,4}-|WARNING: All|To enable)")
_MARK = "MMER_NATIVE_FILTER"  # "<device>:<inode>" of the pipe already filtering descriptor 2
_LINE_END = re.compile(rb"[\r\n]")


def _verbose_level(argv) -> int:
    """``--verbose N`` / ``--verbose=N`` / ``-verbose N`` in ``argv`` (0 when absent or not a number)."""
    args = list(argv)
    for i, arg in enumerate(args):
        for name in ("--verbose", "-verbose"):
            value = None
            if arg == name and i + 1 < len(args):
                value = args[i + 1]
            elif arg.startswith(name + "="):
                value = arg.split("=", 1)[1]
            if value is not None:
                try:
                    return int(value)
                except ValueError:
                    return 0
    return 0


def _pipe_id(fd: int) -> str:
    info = os.fstat(fd)
    return f"{info.st_dev}:{info.st_ino}"


def filter_native_stderr(argv=()) -> None:
    """Route descriptor 2 through the native-log filter (once per process tree; see the module doc)."""
    if _verbose_level(argv) >= 2:
        os.environ["MMER_NATIVE_LOGS"] = "1"  # everything, start-up notices included, here and in workers
    if os.environ.get("MMER_NATIVE_LOGS") == "1":
        return
    try:
        if os.environ.get(_MARK) == _pipe_id(2):
            return  # a parent's filter already reads our descriptor 2
    except OSError:
        return  # no descriptor 2 at all: nothing to filter
    import atexit
    import subprocess

    sys.stderr.flush()
    try:
        child = subprocess.Popen([sys.executable, "-S", "-E", os.path.abspath(__file__)], stdin=subprocess.PIPE,
                                 stdout=2, stderr=2, start_new_session=True)
    except OSError:
        return  # cannot start it (no processes left): better unfiltered than no run
    saved = os.dup(2)
    os.dup2(child.stdin.fileno(), 2)
    child.stdin.close()
    os.environ[_MARK] = _pipe_id(2)

    def finish() -> None:
        """At exit: close our end so the filter sees EOF and prints the last lines before the shell prompt."""
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(saved, 2)
        try:
            child.wait(timeout=2)  # longer only when a worker that inherited the pipe is still alive
        except subprocess.TimeoutExpired:
            pass

    atexit.register(finish)


def _filter(source: int, sink: int) -> None:
    """Copy ``source`` to ``sink``, dropping native log lines; every other byte leaves as soon as it is known."""
    pending = b""
    while True:
        try:
            chunk = os.read(source, 65536)
        except InterruptedError:
            continue
        if not chunk:
            break
        pending += chunk
        out = []
        while True:
            end = _LINE_END.search(pending)
            if end is None:
                break
            line, pending = pending[:end.end()], pending[end.end():]
            if not NATIVE_LINE.match(line):
                out.append(line)
        if pending and (len(pending) > 4096 or not _MAYBE_NATIVE.match(pending)):
            out.append(pending)
            pending = b""
        if out:
            os.write(sink, b"".join(out))
    if pending and not NATIVE_LINE.match(pending):
        os.write(sink, pending)


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


if __name__ == "__main__":  # the filter process started by filter_native_stderr
    import signal

    # Ctrl-C, SLURM's SIGUSR1/SIGTERM and hang-ups are for the run; the filter ends when its input does.
    for _name in ("SIGINT", "SIGTERM", "SIGUSR1", "SIGHUP", "SIGQUIT"):
        signal.signal(getattr(signal, _name), signal.SIG_IGN)
    try:
        _filter(0, 1)
    except (BrokenPipeError, OSError):
        pass
