"""``python -m mmer_tf.align IN_DIR OUT_DIR --reference glove_vectors [--collapse mean|none]
[--labels "All Labels"]``: align every ``.csd`` of a CSD dataset, the SDK way, without the SDK.

All sequences in IN_DIR are aligned to the reference (with the collapse, then ``impute`` of missing
reference entries when collapsing), then, with ``--labels``, to that labels sequence, after which
segments lacking any sequence are dropped (the SDK's ``hard_unify``). One aligned ``.csd`` per sequence
is written to OUT_DIR under the input's file name and root name. Videos are streamed one at a time;
outputs are written under temporary names and renamed only when everything succeeded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Mapping

from mmer_tf.data.align import AlignReport, Entries, Stage, align_stream
from mmer_tf.data.csd import CsdReader, CsdWriter
from mmer_tf.errors import MmerError


class AlignedWriters:
    """One SDK-format output file per sequence, filled video by video; all published or none."""

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
            writer = self.writers[name]
            for key, intervals, features in seq.items():
                writer.add(key, intervals, features)

    def commit(self) -> None:
        for writer in self.writers.values():
            writer.finish()
        for writer in self.writers.values():
            writer.publish()

    def abort(self) -> None:
        for writer in self.writers.values():
            writer.abort()


def align_folder(
    in_dir: str | Path,
    out_dir: str | Path,
    reference: str,
    collapse: str | None = "mean",
    labels: str | None = None,
    progress: bool = True,
) -> AlignReport:
    """Align every ``.csd`` in ``in_dir`` and write the aligned sequences to ``out_dir``."""
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    if not in_dir.is_dir():
        raise MmerError(f"{in_dir}: input folder not found")
    paths = sorted(p for p in in_dir.iterdir() if p.suffix == ".csd" and p.is_file())
    if not paths:
        raise MmerError(f"{in_dir}: no .csd files")
    readers: dict[str, CsdReader] = {}
    try:
        for path in paths:
            reader = CsdReader(path)
            if reader.name in readers:
                reader.close()
                raise MmerError(f"{path}: root name '{reader.name}' also in {readers[reader.name].path}")
            readers[reader.name] = reader
        for flag, name in (("--reference", reference), ("--labels", labels)):
            if name is not None and name not in readers:
                raise MmerError(f"{flag} '{name}': unknown sequence name (have {sorted(readers)})")
        if labels == reference:
            raise MmerError(f"--labels '{labels}': same as --reference")
        stages = [Stage(reference, collapse, impute=collapse is not None)]
        if labels is not None:
            stages.append(Stage(labels))
        out_dir.mkdir(parents=True, exist_ok=True)
        report = AlignReport()
        targets = {name: out_dir / reader.path.name for name, reader in readers.items()}
        metadata = {name: reader.metadata for name, reader in readers.items()}
        writers = AlignedWriters(targets, metadata)
        try:
            stream = align_stream(readers, stages, hard_unify_at_end=labels is not None, report=report,
                                  progress=progress)
            for _video, entries in stream:
                writers.add(entries)
            writers.commit()
        except BaseException:
            writers.abort()
            raise
        return report
    finally:
        for reader in readers.values():
            reader.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mmer_tf.align",
        description="Align every computational sequence (.csd) of IN_DIR to a reference sequence "
        "(CMU Multimodal SDK semantics) and write the aligned sequences to OUT_DIR.",
    )
    parser.add_argument("in_dir", help="folder of .csd files")
    parser.add_argument("out_dir", help="folder for the aligned .csd files (same file names)")
    parser.add_argument("--reference", default="glove_vectors", help="root name of the reference sequence")
    parser.add_argument("--collapse", choices=("mean", "none"), default="mean",
                        help="collapse other sequences to one row per reference interval (default: mean)")
    parser.add_argument("--labels", default=None,
                        help="root name of a labels sequence to align to afterwards (e.g. 'All Labels')")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        report = align_folder(args.in_dir, args.out_dir, args.reference,
                              None if args.collapse == "none" else args.collapse, args.labels,
                              progress=not args.quiet)
    except MmerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for line in report.lines():
        print(line)
    print(f"written to: {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
