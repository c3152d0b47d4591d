"""Robustness to missing and noisy modalities: perturbations (:mod:`.noise`), curve summaries
(:mod:`.summary`) and the metric-vs-level figure (:mod:`.plot`); ``python -m mmer_tf evaluate`` runs them."""
