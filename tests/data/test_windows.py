"""Windows over videos and their stitching; frame-level targets, video scores and tables.

Properties: the windows of a video cover every frame, each window is at most ``window`` long, consecutive
starts are ``hop`` apart (the last one ends on the last frame); stitching gives every frame exactly one
prediction, the mean of the windows containing it (checked against a hand-computed case and, for random
lengths, by counting the windows per frame).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmer_tf.config import ExperimentConfig
from mmer_tf.data import windows
from mmer_tf.data.segments import SegmentSet
from mmer_tf.errors import MmerError
from mmer_tf.frame_level import FrameRun, mean_logits_score, vote_score
from mmer_tf.tasks import LabelSchema, category


def test_the_originals_rule_by_hand():
    assert windows.window_spans(1000, 300, 200) == [(0, 300), (200, 500), (400, 700), (600, 900), (700, 1000)]
    assert windows.window_spans(700, 300, 200) == [(0, 300), (200, 500), (400, 700)]
    assert windows.window_spans(120, 300, 200) == [(0, 120)]
    with pytest.raises(MmerError, match="--hop_length must be >= 1"):
        windows.window_spans(10, 3, 0)
    with pytest.raises(MmerError, match="--hop_length 4 must not exceed --window_length 3"):
        windows.window_spans(10, 3, 4)


@settings(max_examples=200, deadline=None)
@given(length=st.integers(1, 400), window=st.integers(1, 60), hop_share=st.floats(0.0, 1.0))
def test_windows_cover_every_frame_and_stitching_predicts_each_once(length, window, hop_share):
    hop = max(1, round(hop_share * window))
    spans = windows.window_spans(length, window, hop)
    covered = np.zeros(length, np.int64)
    for start, stop in spans:
        assert 0 <= start < stop <= length and stop - start == min(window, length)
        covered[start:stop] += 1
    assert covered.min() >= 1
    assert spans[-1][1] == length
    assert all(start == k * hop for k, (start, _) in enumerate(spans[:-1]))
    assert spans[-1][0] in ((len(spans) - 1) * hop, max(length - window, 0))
    # stitching: window k predicts the constant k; each frame gets the mean of the windows holding it
    index = windows.WindowIndex(np.zeros(len(spans), np.int64), np.array([a for a, _ in spans]),
                                np.array([b for _, b in spans]), np.array([length]))
    preds = [np.full((b - a, 1), float(k)) for k, (a, b) in enumerate(spans)]
    (stitched,) = windows.stitch(preds, index)
    assert stitched.shape == (length, 1)
    expected = np.zeros(length)
    for k, (a, b) in enumerate(spans):
        expected[a:b] += k
    np.testing.assert_allclose(stitched[:, 0], expected / covered, rtol=1e-6)


def videos(lengths, num_classes=3, seed=0, gaps=True):
    rng = np.random.default_rng(seed)
    frame_labels, labels = [], []
    for length in lengths:
        y = rng.integers(0, num_classes, size=length).astype(np.float32)
        if gaps:
            y[rng.random(length) < 0.2] = np.nan
        frame_labels.append(y[:, None])
        finite = y[np.isfinite(y)].astype(int)
        labels.append([np.bincount(finite, minlength=num_classes).argmax() if finite.size else 0])
    features = {"vision": [rng.normal(size=(n, 2)).astype(np.float32) for n in lengths],
                "audio": [rng.normal(size=(n, 3)).astype(np.float32) for n in lengths]}
    return SegmentSet([f"v{i}[0]" for i in range(len(lengths))], features, np.asarray(labels, np.float32),
                      frame_labels=frame_labels)


def test_overlap_averaging_by_hand():
    video = videos([5], gaps=False)
    cut, index = windows.cut(video, 3, 2)  # windows [0,3) [2,5)
    assert cut.ids == ["v0[0]@0", "v0[0]@2"] and [len(x) for x in cut.features["vision"]] == [3, 3]
    np.testing.assert_array_equal(cut.features["audio"][1], video.features["audio"][0][2:5])
    np.testing.assert_array_equal(cut.frame_labels[1], video.frame_labels[0][2:5])
    first = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 6.0]])
    second = np.array([[5.0, 2.0], [7.0, 0.0], [9.0, 1.0], [99.0, 99.0]])  # padded to 4 steps: the pad is ignored
    (stitched,) = windows.stitch([first, second], index)
    np.testing.assert_allclose(stitched, [[1, 0], [2, 0], [4, 4], [7, 0], [9, 1]])


def config(**kw):
    base = dict(model_name="lfan", label_type="category", final_activ="softmax", window_length=4, hop_length=3)
    base.update(kw)
    return ExperimentConfig(**base)


SCHEMA = LabelSchema(("category",), ("a", "b", "c"))


def test_step_targets_one_hot_with_zero_weight_on_unlabelled_frames():
    folds = {name: videos([6, 3], seed=i) for i, name in enumerate(("train", "valid", "test"))}
    run = FrameRun(config(), category.TASK, SCHEMA, folds)
    cut, _ = run.windows["train"]
    targets, weights = run.step_targets(cut)
    assert [len(t) for t in targets] == [4, 4, 3]  # windows [0,4) [2,6) and the short video
    for y, t, w in zip(cut.frame_labels, targets, weights):
        labelled = np.isfinite(y[:, 0])
        np.testing.assert_array_equal(w, labelled.astype(np.float32))
        np.testing.assert_array_equal(t[labelled].argmax(1), y[labelled, 0].astype(int))
        assert np.allclose(t.sum(1), 1.0)  # unlabelled steps still hold a valid (unused) target


def test_video_scores():
    logits = np.array([[2.0, 0.0, -1.0], [0.0, 3.0, 0.0], [1.0, 1.0, 0.5]])
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    mean = logits.mean(0)
    np.testing.assert_allclose(mean_logits_score(probs, "softmax"), np.exp(mean) / np.exp(mean).sum(), rtol=1e-6)
    sig = 1 / (1 + np.exp(-logits))
    np.testing.assert_allclose(mean_logits_score(sig, "sigmoid"), 1 / (1 + np.exp(-mean)), rtol=1e-6)
    np.testing.assert_array_equal(vote_score(probs), [1, 0, 0])  # argmaxes 0, 1, 0 (tie 0/1 broken low)


def test_frame_and_video_tables():
    folds = {name: videos([6, 5, 4], seed=i) for i, name in enumerate(("train", "valid", "test"))}
    run = FrameRun(config(), category.TASK, SCHEMA, folds)
    assert run.tables() == ("classification_category_frames", "classification_category_videos")
    test = folds["test"]
    perfect = [np.eye(3)[np.nan_to_num(y[:, 0]).astype(int)] for y in test.frame_labels]
    families = run.evaluate(perfect)
    assert families["classification_category_frames"][0]["acc"] == 1.0
    # video truth is the majority of labelled frames, and avg logits of perfect frames picks it
    assert families["classification_category_videos"][0]["acc"] == 1.0
    with pytest.raises(MmerError, match="frames_vote needs a task with classes"):
        FrameRun(config(video_score="frames_vote"), _ScoresTask(), SCHEMA, folds)


class _ScoresTask(category.CategoryTask):
    def output_kind(self, config):
        return "scores"


def test_window_batches_carry_per_step_targets_and_zero_weights_on_gaps_and_padding():
    from mmer_tf.data import pipeline

    folds = {name: videos([7, 3], seed=i) for i, name in enumerate(("train", "valid", "test"))}
    run = FrameRun(config(window_length=5, hop_length=2), category.TASK, SCHEMA, folds)
    _, _, test_ds = run.datasets(pipeline, batch_size=8, seed=0, modalities=("vision", "audio"))
    inputs, y, w = next(iter(test_ds))
    cut, _ = run.windows["test"]
    assert y.shape == (len(cut), 5, 3) and w.shape == (len(cut), 5) and inputs["vision"].shape[1] == 5
    labelled = np.zeros((len(cut), 5), bool)
    for k, labels in enumerate(cut.frame_labels):
        labelled[k, :len(labels)] = np.isfinite(labels[:, 0])
        np.testing.assert_array_equal(np.asarray(inputs["vision_mask"][k]), np.arange(5) < len(labels))
    w = np.asarray(w)
    assert np.all(w[~labelled] == 0) and np.allclose(w[labelled], w.size / labelled.sum())  # mean 1

    # the loss Keras reports is the cross-entropy averaged over the labelled frames only
    import keras

    from mmer_tf.config import ExperimentConfig as Config
    from mmer_tf.models import registry

    keras.utils.set_random_seed(0)
    hp = {"vision_channels": "4", "audio_channels": "4", "modal_dim": 4, "num_heads": 2}
    model = registry.build_model(Config(model_name="lfan", final_activ="softmax", model_hparams=hp),
                                 {"vision": 2, "audio": 3}, 3, per_step=True)
    model.compile(loss="categorical_crossentropy")
    p = np.asarray(model(inputs, training=False))
    by_hand = -np.log((p * np.asarray(y)).sum(-1)[labelled]).mean()
    np.testing.assert_allclose(model.evaluate(test_ds, verbose=0), by_hand, rtol=1e-5)


def test_segment_level_training_options_are_refused_in_one_line():
    folds = {name: videos([6, 3], seed=i) for i, name in enumerate(("train", "valid", "test"))}
    with pytest.raises(MmerError, match="^--mixup_alpha, --aux_loss: not available on a corpus labelled per frame"):
        FrameRun(config(mixup_alpha=0.2, aux_loss=("audio=1",)), category.TASK, SCHEMA, folds)
