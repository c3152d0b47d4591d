"""``python -m mmer_tf align IN_DIR OUT_DIR --reference glove_vectors [--collapse mean|none]
[--labels "All Labels"] [--jobs N]`` (:mod:`mmer_tf.cli.align`): align every ``.csd`` of a CSD dataset,
the SDK way, without the SDK.

All sequences in IN_DIR are aligned to the reference (with the collapse, then ``impute`` of missing
reference entries when collapsing), then, with ``--labels``, to that labels sequence, after which
segments lacking any sequence are dropped (the SDK's ``hard_unify``). One aligned ``.csd`` per sequence
is written to OUT_DIR under the input's file name and root name.

Safety, because the inputs are usually the only copy of a corpus: an output that would land on an
input file (same folder, a symlink, a hard link) is refused before anything is opened for writing;
every input ``*.csd`` must be a readable file (a dangling link or a folder named ``*.csd`` is an error,
never skipped); outputs are written as ``<name>.<pid>.partial`` and renamed only when every sequence
succeeded, so a failure (full disk, Ctrl-C, a killed writer) leaves the old outputs as they were and
removes what it wrote; a run killed outright leaves ``.partial`` files that the next run removes.

Speed: in the word-level layout nearly all the time is creating HDF5 objects (one group and two
datasets per word and sequence). The main process reads and aligns one video at a time and hands each
sequence's entries to its own writer process (``--jobs``), so the files are written in parallel.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path
from typing import Mapping

from mmer_tf.data.align import AlignReport, Entries, Stage, align_stream, format_drop_summary
from mmer_tf.formats.csd import CsdReader, CsdWriter, list_csd_files, partial_path, remove_stale_partials
from mmer_tf.errors import MmerError


class AlignedWriters:
    """One SDK-format output file per sequence, filled video by video in this process; all published
    or none."""

    def __init__(self, targets: Mapping[str, Path], metadata: Mapping[str, Mapping]):
        self.writers: dict[str, CsdWriter] = {}
        try:
            for name, path in targets.items():
                self.writers[name] = CsdWriter(path, name, metadata.get(name, {}))
        except MmerError:
            self.abort()
            raise

    def add(self, entries: Mapping[str, Entries]) -> None:
        for name, seq in entries.items():
            self.writers[name].add_many(seq.keys, seq.offsets, seq.intervals, seq.features)

    def commit(self) -> None:
        for writer in self.writers.values():
            writer.finish()
        _fault("finish")
        for writer in self.writers.values():
            writer.publish()
            _fault("publish")

    def abort(self) -> None:
        for writer in self.writers.values():
            writer.abort()


def _writer_process(conn, results, path, name, metadata, partial, inherited) -> None:
    """Child: write one sequence from the entries the parent sends; report ``("ok", n)`` or
    ``("error", line)``. A closed pipe (the parent died or gave up) removes the partial file."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    for other in inherited:  # the parent's ends of the other writers' pipes: holding them open
        other.close()        # would keep those writers from ever seeing the parent go away
    writer = None
    try:
        writer = CsdWriter(path, name, metadata, partial=partial)
        while True:
            message = conn.recv()
            if message is None:
                writer.finish()
                results.send(("ok", writer.count))
                return
            writer.add_many(*message)
    except MmerError as exc:
        _send(results, ("error", str(exc)))
    except (EOFError, OSError):  # the parent is gone
        pass
    except BaseException as exc:  # noqa: BLE001 - reported as one line by the parent
        _send(results, ("error", f"{partial}: writer failed ({type(exc).__name__}: {exc})"))
    if writer is not None:
        writer.abort()
    _remove(Path(partial))


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:  # a read-only folder, where nothing was written either
        pass


def _send(conn, message) -> None:
    try:
        conn.send(message)
    except OSError:
        pass


PIPE_BYTES = 8 << 20  # a few videos of word-level entries in flight per writer


def _widen_pipe(conn) -> None:
    """Let a pipe hold several videos: with Linux's default 64 KiB, handing over one video of 300-d
    words blocks the aligner until that writer has finished the previous video, so the two take turns
    instead of overlapping. Capped by /proc/sys/fs/pipe-max-size; ignored where not supported."""
    try:
        import fcntl

        limit = int(Path("/proc/sys/fs/pipe-max-size").read_text())
        fcntl.fcntl(conn.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), min(PIPE_BYTES, limit))
    except (OSError, ValueError, ImportError):
        pass


class ParallelWriters:
    """The same contract as :class:`AlignedWriters`, each file written by its own process."""

    def __init__(self, targets: Mapping[str, Path], metadata: Mapping[str, Mapping]):
        context = multiprocessing.get_context("fork")
        self.partials = {name: partial_path(path) for name, path in targets.items()}
        self.targets = dict(targets)
        self.procs, self.pipes, self.results = {}, {}, {}
        try:
            for name, path in targets.items():
                recv, send = context.Pipe(duplex=False)
                result_recv, result_send = context.Pipe(duplex=False)
                inherited = list(self.pipes.values()) + list(self.results.values()) + [send, result_recv]
                proc = context.Process(target=_writer_process, daemon=True,
                                       args=(recv, result_send, path, name, dict(metadata.get(name, {})),
                                             self.partials[name], inherited))
                proc.start()
                recv.close()
                result_send.close()
                _widen_pipe(send)
                self.procs[name], self.pipes[name], self.results[name] = proc, send, result_recv
        except BaseException:
            self.abort()
            raise

    def _failure(self, name: str) -> MmerError:
        """The writer's own one-line reason, or what became of its process."""
        conn = self.results[name]
        try:
            if conn.poll(5):
                status, detail = conn.recv()
                if status == "error":
                    return MmerError(detail)
        except (EOFError, OSError):
            pass
        proc = self.procs[name]
        proc.join(5)
        return MmerError(f"{self.partials[name]}: writer process ended unexpectedly (exit code {proc.exitcode})")

    def add(self, entries: Mapping[str, Entries]) -> None:
        for name, seq in entries.items():
            if self.results[name].poll():
                raise self._failure(name)
            try:
                self.pipes[name].send((seq.keys, seq.offsets, seq.intervals, seq.features))
            except OSError:
                raise self._failure(name) from None

    def commit(self) -> None:
        for name, pipe in self.pipes.items():
            try:
                pipe.send(None)
            except OSError:
                raise self._failure(name) from None
        for name in self.pipes:
            try:
                status, detail = self.results[name].recv()
            except (EOFError, OSError):
                raise self._failure(name) from None
            if status != "ok":
                raise MmerError(detail)
        for proc in self.procs.values():
            proc.join()
        _fault("finish")
        for name, path in self.targets.items():
            try:
                os.replace(self.partials[name], path)
            except OSError as exc:
                raise MmerError(f"{path}: cannot publish ({exc.strerror})") from None
            _fault("publish")

    def abort(self) -> None:
        for pipe in self.pipes.values():
            pipe.close()  # writers see EOF, remove their partial file and exit
        for proc in self.procs.values():
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join()
        for partial in self.partials.values():
            _remove(partial)


def _fault(stage: str) -> None:
    """Fault injection for the tests: ``MMER_FAULT=<stage>:<KILL|INT>`` sends this process that signal
    when it reaches ``stage`` (``start``: writers ready; ``write``: first video handed over;
    ``finish``: every file complete, none published; ``publish``: the first file renamed)."""
    wanted = os.environ.get("MMER_FAULT", "")
    if wanted.startswith(stage + ":"):
        os.kill(os.getpid(), getattr(signal, "SIG" + wanted.split(":", 1)[1]))


def _check_output(out_dir: Path, targets: Mapping[str, Path], inputs: list[Path]) -> None:
    """Refuse an output that would overwrite (or be written through to) an input file."""
    if out_dir.exists() and not out_dir.is_dir():
        raise MmerError(f"{out_dir}: output exists and is not a folder")
    real_inputs = {os.path.realpath(p): p for p in inputs}
    for target in targets.values():
        hit = real_inputs.get(os.path.realpath(target))
        if hit is None and target.exists():
            hit = next((p for p in inputs if os.path.samefile(p, target)), None)
        if hit is not None:
            raise MmerError(
                f"{out_dir}: output '{target.name}' would overwrite the input {hit}; "
                f"choose an output folder that holds no input file"
            )


def align_folder(
    in_dir: str | Path,
    out_dir: str | Path,
    reference: str,
    collapse: str | None = "mean",
    labels: str | None = None,
    progress: bool = True,
    jobs: int | None = None,
) -> AlignReport:
    """Align every ``.csd`` in ``in_dir`` and write the aligned sequences to ``out_dir``.

    ``jobs``: ``0`` writes in this process; any other value gives each sequence its own writer process
    (``None``: that, when the machine has more than one CPU).
    """
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    if not in_dir.is_dir():
        raise MmerError(f"{in_dir}: input folder not found")
    paths = list_csd_files(in_dir)
    if not paths:
        raise MmerError(f"{in_dir}: no .csd files")
    if out_dir.exists() and not out_dir.is_dir():
        raise MmerError(f"{out_dir}: output exists and is not a folder")
    names, metadata, counts = {}, {}, {}
    for path in paths:
        with CsdReader(path) as reader:
            if reader.name in names:
                raise MmerError(f"{path}: root name '{reader.name}' also in {names[reader.name]}")
            names[reader.name], metadata[reader.name], counts[reader.name] = path, reader.metadata, len(reader)
    for flag, name in (("--reference", reference), ("--labels", labels)):
        if name is not None and name not in names:
            raise MmerError(f"{flag} '{name}': unknown sequence name (have {sorted(names)})")
    if labels == reference:
        raise MmerError(f"--labels '{labels}': same as --reference")
    for name, count in counts.items():
        if count == 0:
            raise MmerError(f"{names[name]}: sequence '{name}' holds no videos; nothing to align")
    targets = {name: out_dir / path.name for name, path in names.items()}
    _check_output(out_dir, targets, paths)
    stages = [Stage(reference, collapse, impute=collapse is not None)]
    if labels is not None:
        stages.append(Stage(labels))
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MmerError(f"{out_dir}: cannot create the output folder ({exc.strerror})") from None
    remove_stale_partials(out_dir)
    if jobs is None:
        jobs = len(targets) if (os.cpu_count() or 1) > 1 else 0
    if "fork" not in multiprocessing.get_all_start_methods():
        jobs = 0  # the writers inherit the aligner's state by fork; elsewhere write in this process
    writers = (ParallelWriters if jobs else AlignedWriters)(targets, metadata)
    report = AlignReport()
    readers: dict[str, CsdReader] = {}
    try:
        for name, path in names.items():
            readers[name] = CsdReader(path)
        stream = align_stream(readers, stages, hard_unify_at_end=labels is not None, report=report,
                              progress=progress)
        _fault("start")
        for _video, entries in stream:
            writers.add(entries)
            _fault("write")
        if report.entries_out == 0:
            lines = format_drop_summary(report.as_dict())
            raise MmerError(f"{in_dir}: no segment survived alignment, nothing written"
                            + (f" ({'; '.join(lines)})" if lines else ""))
        writers.commit()
    except BaseException:
        writers.abort()
        raise
    finally:
        for reader in readers.values():
            reader.close()
    return report
