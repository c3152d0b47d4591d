"""Do the offline pretrained recipes beat today's defaults? ``fer`` vs HOG (video), ``vader`` vs hashed
character n-grams (text), on the generated RAVDESS miniature and the generated video folder.

    python benchmarks/recipe_defaults.py [--work DIR] [--seeds 1,2,3] [--epochs 6]

Both corpora are made by the test generators (``tests/raw_media_support.py``: espeak-ng speech with the
emotion in pitch and rate, a drawn face with the emotion in the mouth; real RAVDESS names, a real
``labels.csv`` folder). Each recipe variant changes one modality against today's recipe (logmel +
offline text + HOG face), so each default is decided on its own. Every variant runs the same model
(``lf_dnn``), the same flags, every speaker-independent fold (``--num_folds 4``: one speaker per test
fold) and the same seeds; the table is the mean and standard deviation over folds x seeds of the
test accuracy and macro F1, plus the featurization seconds of each variant's corpus folder.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

VARIANTS = {
    "today (offline text, HOG face)": {},
    "video fer": {"video_recipe": "fer"},
    "text vader": {"text_recipe": "vader"},
}


def make_video_folder(root: Path) -> Path:
    """The video-folder miniature of ``tests/data/corpora/test_corpus_videos.py``: 4 speakers x happy/sad x 2 takes."""
    from raw_media_support import write_clip

    lines = ["file,label,speaker,text"]
    for speaker in range(4):
        for emotion in ("happy", "sad"):
            for take in range(2):
                name = f"s{speaker}/{emotion}_{take}.mp4"
                write_clip(root / name, "We were on a break", emotion, speaker + 1)
                lines.append(f"{name},{emotion},spk{speaker},We were on a break")
    (root / "labels.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def run_one(corpus: Path, name: str, changes: dict, fold: int, seed: int, work: Path, epochs: int) -> dict:
    import pandas as pd

    from mmer_tf import experiment
    from mmer_tf.config import ExperimentConfig

    models = work / "models" / name.split()[0] / corpus.name
    extra = {"emotions": ("happy", "sad")} if corpus.name == "RAVDESS" else {}
    config = ExperimentConfig(dataset_folder=str(corpus), label_type="category", model_name="lf_dnn",
                              final_activ="softmax", num_epochs=epochs, batch_size=8, num_folds=4, fold=fold,
                              seed=seed, verbose=0,
                              pickle_folder=str(work / "cache"), model_folder=str(models), **extra, **changes)
    experiment.run(config)
    row = pd.read_csv(models / "lf_dnn" / "csv" / "classification_category.csv").iloc[-1]
    return {"acc": float(row["acc"]), "f1_macro": float(row["f1_macro"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    work = Path(args.work or tempfile.mkdtemp(prefix="recipe_defaults_"))
    from raw_media_support import make_ravdess

    corpora = []
    if not (work / "RAVDESS").exists():
        make_ravdess(work / "RAVDESS")
    corpora.append(work / "RAVDESS")
    if not (work / "videos").exists():
        make_video_folder(work / "videos")
    corpora.append(work / "videos")
    print(f"work folder {work}; lf_dnn, {args.epochs} epochs, 4 speaker-independent folds x seeds {seeds}")
    print(f"{'corpus':8} {'variant':32} {'acc mean±sd':>14} {'F1 mean±sd':>14} {'runs':>4} {'seconds':>8}")
    for corpus in corpora:
        for name, changes in VARIANTS.items():
            started = time.perf_counter()
            results = [run_one(corpus, name, changes, fold, seed, work, args.epochs)
                       for fold in range(4) for seed in seeds]
            acc = [r["acc"] for r in results]
            f1 = [r["f1_macro"] for r in results]
            print(f"{corpus.name:8} {name:32} {statistics.mean(acc):6.3f}±{statistics.stdev(acc):5.3f} "
                  f"{statistics.mean(f1):7.3f}±{statistics.stdev(f1):5.3f} {len(results):4d} "
                  f"{time.perf_counter() - started:8.1f}", flush=True)


if __name__ == "__main__":
    main()
