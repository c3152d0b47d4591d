"""Result tables, run ids and artefacts: concurrent writers, union-of-columns rewrites, atomicity, plots."""

import csv
import multiprocessing
import os
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from mmer_tf import plots, results
from mmer_tf.cli import results as cli_results
from mmer_tf.results import store
from mmer_tf.config import ExperimentConfig, parameter_columns
from mmer_tf.errors import MmerError

WORKERS = 8
ROUNDS = 4
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def read_table(path):
    """(header, rows as dicts) with a strict check that every record has exactly one cell per column."""
    with open(path, newline="", encoding="utf-8") as handle:
        records = list(csv.reader(handle))
    header, body = records[0], records[1:]
    assert all(len(record) == len(header) for record in body), f"{path}: ragged rows"
    return header, [dict(zip(header, record)) for record in body]


def payload(worker, round_):
    # Long enough that two unlocked writers would visibly tear each other's rows.
    return f"w{worker}r{round_}:" + "x" * 4000 + f":end{worker}-{round_}"


def concurrent_worker(csv_dir, worker, barrier, queue):
    """One cluster-array task: reserve ids and record runs, ROUNDS times, against the same tables."""
    paths = results.RunPaths(Path(csv_dir).parent, Path(csv_dir), "p")
    barrier.wait(timeout=60)
    for round_ in range(ROUNDS):
        run_id = results.reserve_run_id(csv_dir)
        dominant = {"f1_macro": worker + round_ / 10}
        if worker % 2:  # odd workers bring a column the table does not have yet: union rewrites race too
            dominant["f1_extra"] = float(worker)
        families = {
            "regression": {"mae": worker * 10 + round_},
            "classification_presence": [{"threshold": t, "f1_macro": t} for t in (0.0, 0.5)],
            "dominant": dominant,
        }
        params = {"worker": worker, "round": round_, "payload": payload(worker, round_)}
        results.write_run(paths, run_id, params, families, 0.0, 1.0)
        queue.put((worker, round_, run_id))


def test_eight_processes_lose_no_row_and_share_no_id(tmp_path):
    context = multiprocessing.get_context("spawn")
    csv_dir = tmp_path / "models" / "m" / "csv"
    barrier, queue = context.Barrier(WORKERS), context.Queue()
    processes = [context.Process(target=concurrent_worker, args=(str(csv_dir), w, barrier, queue))
                 for w in range(WORKERS)]
    for process in processes:
        process.start()
    reported = [queue.get(timeout=120) for _ in range(WORKERS * ROUNDS)]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0

    ids = [run_id for _, _, run_id in reported]
    assert len(set(ids)) == WORKERS * ROUNDS  # unique
    for worker in range(WORKERS):  # monotonic within each process
        mine = [run_id for w, _, run_id in sorted(reported) if w == worker]
        assert mine == sorted(mine)
    expected = {run_id: (w, r) for w, r, run_id in reported}

    header, rows = read_table(csv_dir / "model_ids.csv")
    assert header[:3] == ["run_id", "dataset", "status"]
    assert sorted(int(row["run_id"]) for row in rows) == sorted(ids)  # every row exactly once
    for row in rows:
        worker, round_ = expected[int(row["run_id"])]
        assert (row["worker"], row["round"]) == (str(worker), str(round_))
        assert row["payload"] == payload(worker, round_)  # no interleaving inside a row

    _, regression = read_table(csv_dir / "regression.csv")
    assert {int(r["run_id"]): float(r["mae"]) for r in regression} == {
        run_id: w * 10 + r for run_id, (w, r) in expected.items()}
    _, presence = read_table(csv_dir / "classification_presence.csv")
    assert sorted((int(r["run_id"]), float(r["threshold"])) for r in presence) == sorted(
        (run_id, t) for run_id in ids for t in (0.0, 0.5))
    header, dominant = read_table(csv_dir / "classification_dominant.csv")
    assert header == ["run_id", "f1_macro", "f1_extra"]
    assert len(dominant) == WORKERS * ROUNDS
    for row in dominant:
        worker, round_ = expected[int(row["run_id"])]
        assert float(row["f1_macro"]) == pytest.approx(worker + round_ / 10)
        assert row["f1_extra"] == (str(float(worker)) if worker % 2 else "")
    assert sorted(os.listdir(csv_dir / results.RESERVATION_DIR), key=int) == [str(i) for i in sorted(ids)]
    assert not [name for name in os.listdir(csv_dir) if name.endswith(".tmp")]


def test_run_ids_are_sequential_and_survive_a_lost_reservation_folder(tmp_path):
    assert [results.reserve_run_id(tmp_path) for _ in range(3)] == [1, 2, 3]
    (tmp_path / results.RESERVATION_DIR / "7").write_text("{}")  # a reservation from another host
    assert results.reserve_run_id(tmp_path) == 8
    results.append_rows(tmp_path / "exp_model_ids.csv", [{"run_id": 20}])
    for name in os.listdir(tmp_path / results.RESERVATION_DIR):
        os.unlink(tmp_path / results.RESERVATION_DIR / name)
    assert results.reserve_run_id(tmp_path) == 21  # ids recorded in any *model_ids.csv are never reused


def test_append_rows_rewrites_with_the_union_of_columns(tmp_path):
    table = tmp_path / "t.csv"
    results.append_rows(table, [{"a": 1, "b": 0.1 + 0.2}, {"a": 2, "b": None}])
    results.append_rows(table, [{"a": 3, "b": "x"}])  # same columns: plain append
    results.append_rows(table, [{"c": 'say "hi", then\nleave', "a": np.int64(4)}])  # new column c
    results.append_rows(table, [{"b": np.float32(0.5), "d": True}])
    header, rows = read_table(table)
    assert header == ["a", "b", "c", "d"]
    assert rows == [
        {"a": "1", "b": "0.30000000000000004", "c": "", "d": ""},
        {"a": "2", "b": "", "c": "", "d": ""},
        {"a": "3", "b": "x", "c": "", "d": ""},
        {"a": "4", "b": "", "c": 'say "hi", then\nleave', "d": ""},
        {"a": "", "b": "0.5", "c": "", "d": "True"},
    ]
    results.append_rows(table, [])
    assert read_table(table)[1] == rows


def test_append_rows_failure_leaves_the_table_untouched(tmp_path, monkeypatch):
    table = tmp_path / "t.csv"
    results.append_rows(table, [{"a": 1}])
    before = table.read_bytes()

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store.os, "replace", broken_replace)
    for row in ({"a": 2}, {"a": 2, "new": 3}):
        with pytest.raises(OSError):
            results.append_rows(table, [row])
    assert table.read_bytes() == before
    assert not list(tmp_path.glob("*.tmp"))


def test_a_ragged_table_is_a_one_line_error(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("a,b\n1,2,3\n")
    with pytest.raises(MmerError) as error:
        results.append_rows(table, [{"c": 1}])
    assert str(table) in str(error.value) and "\n" not in str(error.value)


def test_save_predictions_is_atomic_and_pickle_free(tmp_path, monkeypatch):
    path = tmp_path / "pred.npz"
    truth = np.arange(12, dtype=np.float32).reshape(4, 3)
    results.save_predictions(path, truth=truth, ids=np.array(["a[0]", "b[1]", "c[2]", "d[3]"]))
    with np.load(path, allow_pickle=False) as saved:
        np.testing.assert_array_equal(saved["truth"], truth)
        assert saved["ids"].tolist() == ["a[0]", "b[1]", "c[2]", "d[3]"]
    before = path.read_bytes()

    def crash_mid_write(handle, **arrays):
        handle.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", crash_mid_write)
    with pytest.raises(KeyboardInterrupt):
        results.save_predictions(path, truth=truth * 2)
    assert path.read_bytes() == before
    assert not list(tmp_path.glob("*.tmp"))
    monkeypatch.undo()
    with pytest.raises(ValueError, match="object"):
        results.save_predictions(tmp_path / "bad.npz", ragged=np.array([[1], [1, 2]], dtype=object))
    assert not (tmp_path / "bad.npz").exists()


def test_run_paths_follow_the_output_flags(tmp_path):
    config = ExperimentConfig(model_folder=str(tmp_path / "out"), model_name="tfn", num_nodes=64)
    paths = results.RunPaths.for_config(config)
    assert paths.model_dir == tmp_path / "out" / "tfn"
    assert paths.csv_dir == tmp_path / "out" / "tfn" / "csv"
    assert paths.best_model(3).name == "model_l_1_n_64_d_0.2_b_32_s_0_run3.keras"
    assert paths.predictions(3).name == "predictions_l_1_n_64_d_0.2_b_32_s_0_run3.npz"
    assert paths.confusion(3).name == "conf_matrix_l_1_n_64_d_0.2_b_32_s_0_run3.npz"
    assert paths.confusion_plot(3).name == "conf_matrix_l_1_n_64_d_0.2_b_32_s_0_run3.png"
    assert paths.history_plot(3).name == "history_l_1_n_64_d_0.2_b_32_s_0_run3.png"
    assert {f: paths.table(f).name for f in ("regression", "coarse", "presence", "dominant")} == {
        "regression": "regression.csv", "coarse": "classification_score_coarse.csv",
        "presence": "classification_presence.csv", "dominant": "classification_dominant.csv"}
    assert paths.table("classification_score_coarse") == paths.table("coarse")

    renamed = results.RunPaths.for_config(config.replace(csv_folder=str(tmp_path / "tables"), csv_name="exp1"))
    assert renamed.csv_dir == tmp_path / "tables"  # an absolute -cf relocates the tables
    assert renamed.model_ids.name == "exp1_model_ids.csv"
    assert renamed.table("presence").name == "exp1_classification_presence.csv"
    for bad in (dict(model_name="a/b"), dict(csv_name="x/y"), dict(model_name="")):
        with pytest.raises(MmerError) as error:
            results.RunPaths.for_config(config.replace(**bad))
        assert "\n" not in str(error.value)


def test_write_run_records_metrics_first_and_model_ids_last(tmp_path, monkeypatch):
    config = ExperimentConfig(model_folder=str(tmp_path), model_name="ef", csv_name="cn", seed=7)
    paths = results.RunPaths.for_config(config)
    written = []
    real_replace = os.replace
    monkeypatch.setattr(store.os, "replace", lambda src, dst: (written.append(Path(dst).name),
                                                                 real_replace(src, dst)))
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "991")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "4")
    started = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    families = {"regression": [{"mae": 0.123456, "mse_happy": float("nan")}],
                "classification_presence": [{"threshold": 0.0, "f1_macro": 0.5},
                                            {"threshold": 0.5, "f1_macro": 0.25}]}
    results.write_run(paths, 5, parameter_columns(config), families, started, started.timestamp() + 12.25,
                      round_decimals=3)
    assert [name for name in written if name.endswith(".csv")] == [
        "cn_regression.csv", "cn_classification_presence.csv", "cn_model_ids.csv"]
    _, ids = read_table(paths.model_ids)
    row = ids[0]
    assert (row["run_id"], row["dataset"], row["status"], row["wall_time_s"]) == ("5", "builtin-sample",
                                                                                    "ok", "12.25")
    assert datetime.fromisoformat(row["started"]) == started
    assert datetime.fromisoformat(row["finished"]).timestamp() == started.timestamp() + 12  # seconds
    assert row["job"] == "991_4" and row["seed"] == "7" and row["modalities"] == "text,audio,vision"
    assert read_table(paths.table("regression"))[1] == [{"run_id": "5", "mae": "0.123", "mse_happy": "nan"}]
    assert [r["threshold"] for r in read_table(paths.table("presence"))[1]] == ["0.0", "0.5"]
    with pytest.raises(ValueError, match="run_id"):
        results.write_run(paths, 6, {}, {"dominant": {"run_id": 1}}, 0.0, 1.0)


def test_history_plot_marks_the_best_epoch(tmp_path):
    history = {"loss": [1.0, 0.6, 0.5, 0.45], "val_loss": [1.1, 0.7, 0.8, 0.9],
               "mae": [0.9, 0.5, 0.4, 0.3], "val_mae": [0.95, 0.6, 0.65, 0.7]}
    assert plots.best_epoch(history) == 1
    assert plots.best_epoch({"val_acc": [0.2, 0.9, 0.4]}, "val_acc") == 1
    assert plots.best_epoch({}, "val_loss") is None
    path = plots.plot_history(history, tmp_path / "h" / "history.png")
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_confusion_plot_checks_its_shape(tmp_path):
    matrices = np.array([[[5, 1], [2, 3]], [[0, 0], [4, 7]], [[9, 0], [0, 0]]])
    path = plots.plot_confusion(matrices, ["happy", "sad", "anger"], tmp_path / "cm.png")
    assert path.read_bytes()[:8] == PNG_MAGIC
    with pytest.raises(ValueError, match="2, 2"):
        plots.plot_confusion(matrices, ["happy", "sad"], tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()


# --------------------------------------------------------------- all-or-nothing tables (issue 9)
def _record(paths, run_id, mae=0.5):
    families = {"regression": {"mae": mae, "test_loss": 0.25},
                "classification_presence": [{"threshold": 0.0, "f1_macro": 0.5, "test_loss": 0.25}],
                "classification_dominant": {"f1_macro": 0.1, "test_loss": 0.25}}
    results.write_run(paths, run_id, {"model_name": "m"}, families, 0.0, 1.0)


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir()) if p.is_file()}


def _hidden_leftovers(folder):
    return [p.name for p in Path(folder).iterdir() if p.name.endswith(results.TXN_SUFFIX)
            or p.name == results.JOURNAL_FILE]


def test_a_write_failure_changes_no_table_and_saves_the_rows(tmp_path, monkeypatch):
    paths = results.RunPaths(tmp_path / "m", tmp_path / "m" / "csv", "p")
    _record(paths, 1)
    before = _snapshot(paths.csv_dir)
    real_stage, calls = store._stage_file, []

    def full_disk_on_third(path, payload):
        calls.append(path.name)
        if len(calls) == 3:
            raise OSError(28, "No space left on device", str(path))
        return real_stage(path, payload)

    monkeypatch.setattr(store, "_stage_file", full_disk_on_third)
    with pytest.raises(MmerError) as error:
        _record(paths, 2, mae=0.75)
    message = str(error.value)
    assert "\n" not in message and "No space left" in message and "unrecorded_run2.json" in message
    fallback = paths.csv_dir / "unrecorded_run2.json"
    saved = __import__("json").loads(fallback.read_text())
    assert saved["tables"]["regression.csv"][0]["mae"] == "0.75"
    assert saved["tables"]["model_ids.csv"][0]["run_id"] == "2"
    moved = tmp_path / fallback.name
    fallback.rename(moved)
    assert _snapshot(paths.csv_dir) == before  # every table exactly as it was
    assert _hidden_leftovers(paths.csv_dir) == []
    # once the disk has room again, the saved rows go into the tables, all of them, once
    monkeypatch.setattr(store, "_stage_file", real_stage)
    assert cli_results.main(["record", str(moved)]) == 0 and not moved.exists()
    for table in ("regression", "classification_presence", "classification_dominant", "model_ids"):
        assert [r["run_id"] for r in read_table(paths.table(table))[1]] == ["1", "2"], table
    assert read_table(paths.table("regression"))[1][1]["mae"] == "0.75"
    moved.write_text(__import__("json").dumps(saved))
    with pytest.raises(MmerError, match="already in"):
        results.record_unrecorded(moved)


class _Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs (the subprocess fault suite kills for real)."""


@pytest.mark.parametrize("stage", ["staged", "journal", "renamed"])
def test_a_writer_killed_at_any_stage_leaves_all_or_nothing(tmp_path, monkeypatch, stage):
    paths = results.RunPaths(tmp_path / "m", tmp_path / "m" / "csv", "p")
    _record(paths, 1)

    def kill(at):
        if at == stage:
            raise _Killed()

    monkeypatch.setattr(store, "_fault_point", kill)
    with pytest.raises(_Killed):
        _record(paths, 2)
    monkeypatch.setattr(store, "_fault_point", lambda at: None)
    _record(paths, 3)  # the next writer cleans up or finishes the killed one's transaction
    committed = stage != "staged"  # the journal was in place: the run is recorded whole
    expected = [1, 2, 3] if committed else [1, 3]
    for table in ("regression", "classification_presence", "classification_dominant", "model_ids"):
        _, rows = read_table(paths.table(table))
        assert [int(r["run_id"]) for r in rows] == expected, table
    assert _hidden_leftovers(paths.csv_dir) == []


def test_check_tables_names_a_table_that_is_not_utf8_before_any_work(tmp_path):
    paths = results.RunPaths(tmp_path / "m", tmp_path / "m" / "csv", "p")
    _record(paths, 1)
    results.check_tables(paths, ["regression", "classification_presence"])
    table = paths.table("classification_presence")
    table.write_bytes(table.read_bytes() + b"9,caf\xe9\n")
    with pytest.raises(MmerError) as error:
        results.check_tables(paths, ["regression", "classification_presence"])
    assert str(error.value).startswith(f"{table}: not UTF-8") and "line 3" in str(error.value)
    with pytest.raises(MmerError, match="unrecorded_run2.json"):  # and at write time, the rows are kept
        _record(paths, 2)
    assert [int(r["run_id"]) for r in read_table(paths.model_ids)[1]] == [1]


def test_discard_run_removes_its_artefacts_and_gives_the_id_back(tmp_path):
    paths = results.RunPaths(tmp_path / "m", tmp_path / "m" / "csv", "l_1_n_2")
    assert results.reserve_run_id(paths.csv_dir) == 1
    assert results.reserve_run_id(paths.csv_dir) == 2
    mine = [paths.best_model(2), paths.history_plot(2), paths.confusion(2, "_tp0.5"),
            paths.model_dir / f".model_{paths.param_name}_run2.x1y2.tmp.keras"]
    others = [paths.best_model(1), paths.best_model(12), paths.model_dir / "model_l_1_n_3_run2.keras"]
    for path in mine + others:
        path.write_bytes(b"x")
    assert sorted(results.discard_run(paths, 2)) == sorted(mine)
    assert all(p.exists() for p in others)
    assert results.reserve_run_id(paths.csv_dir) == 2  # the released id is free again


def test_tables_and_artefacts_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        paths = results.RunPaths(tmp_path / "m", tmp_path / "m" / "csv", "p")
        _record(paths, 1)
        png = plots.plot_history({"loss": [1.0], "val_loss": [1.0]}, paths.history_plot(1))
    finally:
        os.umask(old)
    for path in (paths.model_ids, paths.table("regression"), png):
        assert (path.stat().st_mode & 0o777) == 0o640, path
