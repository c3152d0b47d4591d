"""``mmer_tf.runconfig``: a run's config back from its sidecar or from its model_ids row (typed), equal to
the config that wrote them."""

import csv

import pytest

from mmer_tf import runconfig
from mmer_tf.config import ExperimentConfig, parameter_columns
from mmer_tf.errors import MmerError

CONFIG = ExperimentConfig(dataset_folder=None, modalities=("text", "vision"), threshold_emo_present=(0.0, 0.5),
                          seed=7, learning_rate=0.005, dropout_rate=0.3, label_type="present",
                          with_custom_split=True, model_hparams={"units": 12}, num_epochs=3)


def _row_of(config) -> dict[str, str]:
    """parameter_columns written to CSV and read back as strings, as model_ids.csv holds them."""
    return {k: ("" if v is None else str(v)) for k, v in parameter_columns(config).items()}


def test_model_ids_row_gives_back_every_parameter():
    recovered = runconfig.config_from_row(_row_of(CONFIG))
    assert parameter_columns(recovered) == parameter_columns(CONFIG)  # same config_digest included
    assert recovered.modalities == ("text", "vision") and recovered.threshold_emo_present == (0.0, 0.5)
    assert recovered.dataset_folder is None and recovered.with_custom_split is True
    assert recovered.model_hparams == {"units": 12}


def test_old_rows_keep_defaults_for_missing_columns():
    recovered = runconfig.config_from_row({"run_id": "3", "model_name": "tfn", "seed": "4", "unknown": "x"})
    assert (recovered.model_name, recovered.seed, recovered.num_epochs) == ("tfn", 4, ExperimentConfig().num_epochs)


def test_bad_cell_is_one_line_error():
    with pytest.raises(MmerError, match="model_ids column seed='four'"):
        runconfig.config_from_row({"seed": "four"})


def test_sidecar_round_trip_and_recover_prefers_it(tmp_path):
    model = tmp_path / "mn" / "model_x_run1.keras"
    model.parent.mkdir()
    model.write_bytes(b"")
    runconfig.save_config_sidecar(model, CONFIG.replace(pickle_folder="/data/pf"))
    config, row = runconfig.recover(model)
    assert config == CONFIG.replace(pickle_folder="/data/pf") and row is None


def test_recover_from_row_sets_output_folders_from_where_the_table_is(tmp_path):
    model_dir = tmp_path / "out" / "ef"
    model = model_dir / "model_x_run2.keras"
    (model_dir / "tables").mkdir(parents=True)
    model.write_bytes(b"")
    row = dict(_row_of(CONFIG), run_id="2", model_file=str(model), model_name="ef")
    with open(model_dir / "tables" / "exp1_model_ids.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)
    config, found = runconfig.recover(model)
    assert found["run_id"] == "2"
    assert (config.model_folder, config.model_name, config.csv_folder, config.csv_name) == (
        str(tmp_path / "out"), "ef", "tables", "exp1")
    assert config.seed == 7


def test_unknown_model_is_one_line_error(tmp_path):
    model = tmp_path / "model_y_run1.keras"
    model.write_bytes(b"")
    with pytest.raises(MmerError, match="configuration is unknown"):
        runconfig.recover(model)
