"""CMU-MOSEI and CMU-MOSI folders of SDK computational sequences, as corpus adapters.

The reading and alignment live in :mod:`mmer_tf.data.corpora.cmu`; this module only says how such a
folder is recognised (the SDK's file-name prefixes, or the label sequence's root name for renamed files),
which labels it carries (CMU-MOSEI: sentiment + six emotions; CMU-MOSI: sentiment only) and that it is
split by the standard fold video ids (``has_own_split=False``).
"""

from __future__ import annotations

from pathlib import Path

from mmer_tf.data.corpora.base import CorpusInfo
from mmer_tf.formats.csd import CsdReader
from mmer_tf.data.segments import LABEL_NAMES
from mmer_tf.errors import MmerError


class CmuFolder:
    """One of the two CMU corpora; ``mosei`` and ``mosi`` below are its instances."""

    def __init__(self, name: str, prefix: str, label_root: str, label_names: tuple[str, ...], title: str):
        self.NAME = name
        self.prefix = prefix
        self.label_root = label_root
        self.label_names = label_names
        self.title = title

    @staticmethod
    def csd_files(path: Path) -> list[Path]:
        return sorted(p for p in Path(path).glob("*.csd") if p.is_file()) if Path(path).is_dir() else []

    def detect(self, path: Path) -> bool:
        files = self.csd_files(path)
        if any(p.name.startswith(self.prefix) for p in files):
            return True
        if any(p.name.startswith(("CMU_MOSEI_", "CMU_MOSI_")) for p in files):
            return False
        for file in files:  # renamed files: the label sequence's root name tells the corpus
            try:
                with CsdReader(file) as reader:
                    if reader.name == self.label_root:
                        return True
            except MmerError:
                continue
        return False

    def describe(self, path: Path, config) -> CorpusInfo:
        path = Path(path)
        if not path.is_dir():
            raise MmerError(f"--dataset_folder {path}: not a directory of {self.title} .csd files")
        files = self.csd_files(path)
        if not files:
            raise MmerError(f"--dataset_folder {path}: no .csd files")
        return CorpusInfo(
            name=self.NAME, path=path, files=tuple(files), label_names=self.label_names,
            params={"image_feature": config.image_feature, "align_to_text": bool(config.align_to_text)},
            has_own_split=False, description=f"{self.title} computational sequences",
        )

    def load_segments(self, corpus: CorpusInfo, config, progress: bool):
        from mmer_tf.data.corpora import cmu

        segments, summary = cmu.load_segments(
            corpus.path, image_feature=config.image_feature, align_to_text=config.align_to_text, progress=progress
        )
        width = len(self.label_names)
        if segments.labels.shape[1] != width:
            segments.labels = segments.labels[:, :width]
        segments.info.update(label_names=list(self.label_names), classes=[])
        return segments, summary


mosei = CmuFolder("mosei", "CMU_MOSEI_", "All Labels", LABEL_NAMES, "CMU-MOSEI")
mosi = CmuFolder("mosi", "CMU_MOSI_", "Opinion Segment Labels", ("sentiment",), "CMU-MOSI")

#: The registry reads these (one module, two corpora).
ADAPTERS = (mosei, mosi)
