"""Every registered model, end to end on the built-in sample: it learns in two epochs, and it reloads.

The built-in sample (``mmer_tf.data.synthetic``) plants each segment's emotion labels, noisily and
partially, in every modality: text sees mostly sentiment/happy/sad, audio mostly anger/surprise/fear,
vision mostly happy/disgust/fear/surprise. So a model that learns anything must beat the no-skill
baseline (the training mean) on the dominant-emotion family after two epochs, and a model that fuses
the three modalities must beat the same model on any single one.

Per model (MulT on the word-aligned and on the unaligned view) one ``experiment.run`` of two epochs:

- dominant family: ``f1_macro`` at least ``baseline + F1_MARGIN`` and ``roc_auc_macro`` at least
  ``MIN_AUC`` (the baseline's AUC is 0.5: it ranks nothing);
- the best-epoch ``.keras`` reloaded with ``mmer_tf.train.load_model`` predicts the test fold exactly
  as the run's saved predictions (``-sp``).

Hyper-parameters: the paper defaults, except where their size makes a two-epoch CPU test slow
(``SMALL`` says which and why). The margins come from two-epoch runs with seed 42 (and seeds 1 and 7
for lmf, attn_fusion and tfn), with headroom below the weakest of them.
"""

from __future__ import annotations

import numpy as np
import pytest

from mmer_tf import experiment, train
from mmer_tf.models import registry

EPOCHS = 2
SEED = 42
F1_MARGIN = 0.1  # over the baseline's dominant f1_macro (0.080 on the default sample)
MIN_AUC = 0.6  # dominant roc_auc_macro; the baseline's is 0.5

# Smaller than the paper where the paper size costs minutes on a 2-core CPU (tracing and training):
SMALL = {
    # TFN's first post-fusion layer holds 129*33*33*128 = 18 M weights at the paper size.
    "tfn": {"text_hidden": 32, "audio_hidden": 8, "vision_hidden": 8, "post_fusion": 32},
    # MulT at the paper size (6 crossmodal transformers of 5 blocks + 3 memory transformers) traces for
    # ~100 s before its first step on this machine; one block each keeps every direction.
    "mult": {"layers": 1, "mem_layers": 1},
}

# Known gaps, kept visible: strict xfail, so the test fails the day the model learns and the mark must go.
# (Unaligned MulT was one -- AUC 0.592 -- while its temporal convolutions had kernel 1; with the paper's
# CMU-MOSEI kernels, L/V/A = 1/3/3, it passes: see docs/MODELS.md.)
KNOWN_GAPS: dict[tuple[str, bool], str] = {}

CASES = [
    pytest.param(name, aligned, marks=pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[(name, aligned)]))
    if (name, aligned) in KNOWN_GAPS else (name, aligned)
    for name, aligned in [(name, True) for name in registry.available()] + [("mult", False)]
]


def _dominant(result):
    return result.families["classification_dominant"][0], result.baseline["classification_dominant"][0]


def _reloaded_predictions(result, config):
    """Predictions of the best-epoch ``.keras``, reloaded, on the run's test fold (as experiment.run feeds it)."""
    from mmer_tf.data import dataset, labels, pipeline

    folds, _ = dataset.load_folds(config, progress=False)
    test = folds["test"]
    targets = labels.make_targets(test.labels, config.label_type, neutral=config.predict_neutral_class,
                                  threshold=config.threshold_emo_present[0])
    test_ds = pipeline.make_dataset(test, targets, batch_size=config.batch_size, shuffle=False, seed=config.seed,
                                    fixed_steps=config.fixed_num_steps, modalities=config.modalities)
    model = train.load_model(result.paths.best_model(result.run_id))
    return np.asarray(model.predict(test_ds, verbose=0), dtype=np.float32), np.asarray(test.ids)


@pytest.mark.parametrize("name, aligned", CASES,
                         ids=lambda v: v if isinstance(v, str) else ("aligned" if v else "unaligned"))
@pytest.mark.slow
def test_learns_in_two_epochs_and_the_best_model_reloads(name, aligned, run_config):
    config = run_config(model_name=name, num_epochs=EPOCHS, seed=SEED, align_to_text=aligned,
                        model_hparams=SMALL.get(name, {}), save_predictions=True)
    result = experiment.run(config)

    dominant, baseline = _dominant(result)
    assert dominant["f1_macro"] >= baseline["f1_macro"] + F1_MARGIN, (name, dominant, baseline)
    assert dominant["roc_auc_macro"] >= MIN_AUC, (name, dominant)

    with np.load(result.paths.predictions(result.run_id), allow_pickle=False) as saved:
        saved_ids, saved_predictions = saved["ids"], saved["predictions"]
    reloaded, ids = _reloaded_predictions(result, config)
    np.testing.assert_array_equal(ids, saved_ids)
    np.testing.assert_allclose(reloaded, saved_predictions, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------------------
# fusion pays off where the signal is spread over the modalities
# ------------------------------------------------------------------------------------------------

FUSION_MODEL = "lf_lstm"  # reads every modality on its own, so its unimodal runs are the same model (lf_dnn: margin only 0.014)
FUSION_METRIC = "roc_auc_macro"  # dominant family: a ranking metric, steadier than f1 after two epochs
FUSION_MARGIN = 0.03  # seed 42: 0.756 fused vs 0.706 vision, 0.656 audio, 0.650 text


@pytest.mark.slow
def test_three_modalities_beat_the_best_single_modality(run_config):
    def auc(modalities):
        config = run_config(model_name=FUSION_MODEL, num_epochs=EPOCHS, seed=SEED, modalities=modalities)
        return _dominant(experiment.run(config))[0][FUSION_METRIC]

    fused = auc(("text", "audio", "vision"))
    single = {m: auc((m,)) for m in ("text", "audio", "vision")}
    assert fused >= max(single.values()) + FUSION_MARGIN, (fused, single)
