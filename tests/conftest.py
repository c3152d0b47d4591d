"""Shared fixtures: one built-in sample and its caches per test session, so end-to-end tests only pay
for sample generation and alignment once."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def sample_cache(tmp_path_factory):
    """A pickle folder holding the default built-in sample (240 videos) and its aligned caches."""
    from mmer_tf.config import ExperimentConfig
    from mmer_tf.data import dataset

    folder = tmp_path_factory.mktemp("pickle_files")
    dataset.load_folds(ExperimentConfig(pickle_folder=str(folder), verbose=0), progress=False)
    return folder


@pytest.fixture
def run_config(sample_cache, tmp_path):
    """A quiet run config on the shared sample, writing its tables under ``tmp_path``."""
    from mmer_tf.config import ExperimentConfig

    def make(**changes):
        base = ExperimentConfig(pickle_folder=str(sample_cache), model_folder=str(tmp_path / "models"), verbose=0)
        return base.replace(**changes)

    return make
