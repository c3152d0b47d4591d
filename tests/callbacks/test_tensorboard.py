"""``--tensorboard``: the event files a run writes, read back with TensorBoard's own event reader."""

from __future__ import annotations

import pandas as pd
import pytest


@pytest.mark.slow
def test_a_run_writes_epoch_scalars_and_the_hparams_session(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2
    from tensorboard.util import tensor_util

    from test_search import disagreeing_corpus

    from mmer_tf import experiment
    from mmer_tf.config import ExperimentConfig

    corpus = disagreeing_corpus(tmp_path / "corpus", sizes=(40, 20, 20))
    config = ExperimentConfig(dataset_folder=str(corpus), label_type="category", final_activ="softmax",
                              model_name="lf_dnn", num_epochs=3, patience=5, batch_size=16, learning_rate=0.01,
                              model_folder=str(tmp_path / "models"), pickle_folder=str(tmp_path / "pf"),
                              verbose=0, tensorboard=True)
    result = experiment.run(config)
    folders = list((tmp_path / "models" / "lf_dnn" / "tensorboard").iterdir())
    assert [f.name for f in folders] == [f"{result.paths.param_name}_run{result.run_id}"]
    run_dir = folders[0]

    def events(path):
        accumulator = EventAccumulator(str(path), size_guidance={"tensors": 0})
        accumulator.Reload()
        return accumulator

    def series(accumulator, tag):
        return [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in accumulator.Tensors(tag)]

    train, valid, root = events(run_dir / "train"), events(run_dir / "validation"), events(run_dir)
    assert {"epoch_loss", "epoch_acc", "epoch_learning_rate"} <= set(train.Tags()["tensors"])
    assert {"epoch_loss", "epoch_acc"} <= set(valid.Tags()["tensors"])
    assert [step for step, _ in series(train, "epoch_loss")] == [0, 1, 2]
    assert [v for _, v in series(train, "epoch_learning_rate")] == pytest.approx([0.01] * 3)
    # the validation curve is the one early stopping watched: its best value is what the run selected on
    best = min(v for _, v in series(valid, "epoch_loss"))
    assert best == pytest.approx(result.validation, rel=1e-6)

    content = root.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    session = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    hparams = {k: v.WhichOneof("kind") and getattr(v, v.WhichOneof("kind")) for k, v in session.hparams.items()}
    assert hparams["learning_rate"] == pytest.approx(0.01) and hparams["model_name"] == "lf_dnn"
    assert hparams["num_epochs"] == 3 and hparams["label_type"] == "category"
    ids = pd.read_csv(result.paths.model_ids)
    assert set(ids.columns) - {"run_id", "dataset", "status", "started", "finished", "wall_time_s", "host", "job"} \
        <= set(hparams)
    table = pd.read_csv(result.paths.table("classification_category")).iloc[-1]
    for metric in ("f1_macro", "acc", "test_loss"):
        [(step, value)] = series(root, f"test/classification_category/{metric}")
        assert step == 0 and value == pytest.approx(table[metric], abs=1e-3)
