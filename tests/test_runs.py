"""The run store: atomic run folders, the SQLite catalogue, failures, kills and stale runs."""

import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from valleys.errors import InvalidParameterError, NonConvergenceWarning, RunStoreError
from valleys.experiments import REGISTRY, Params, Result, Verdict, experiment
from valleys.experiments import registry as registry_module
from valleys.runs import RunRecord, RunStore, UnknownRunError, resolve_runs_dir
from valleys.runs.catalogue import Catalogue
from valleys.runs.record import new_run_id


@dataclass(frozen=True)
class SquareParams(Params):
    """n grid points on [0, 1]; the check compares the mean of x^2 to its closed form."""

    n: int = 11
    tol: float = 1e-12
    offset: float = 0.0


def square_experiment(p: SquareParams) -> Result:
    """Mean of x^2 over an n-point grid of [0, 1] is (2n - 1) / (6(n - 1)); offset shifts it."""
    x = np.linspace(0.0, 1.0, p.n)
    y = x**2 + p.offset
    exact = (2 * p.n - 1) / (6 * (p.n - 1))
    verdict = Verdict()
    verdict.add("mean of x^2", y.mean(), exact, p.tol, abs(y.mean() - exact) <= p.tol, kind="evidence")
    fig, ax = plt.subplots()
    ax.plot(x, y)
    table = pd.DataFrame({"x": x, "y": y, "label": [f"p{i}" for i in range(p.n)]})
    return Result(table, verdict, {"curve": fig}, {"grid": "uniform", "n": p.n})


@pytest.fixture
def register():
    """Register test experiments under unique ``test-`` names; remove them afterwards."""
    names = []

    def _register(func, params=SquareParams, stem="exp"):
        name = f"test-{stem}-{uuid.uuid4().hex[:8]}"
        experiment(name, source="test source", claim="TEST-1 claim", params=params)(func)
        names.append(name)
        return registry_module.REGISTRY[name]

    yield _register
    for name in names:
        REGISTRY.pop(name, None)
        registry_module.REGISTRY.pop(name, None)


def _rows(root):
    conn = sqlite3.connect(root / "valleys.db")
    try:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM runs").fetchall()]
    finally:
        conn.close()


def _leftovers(root):
    return sorted(p.name for p in root.iterdir() if p.name.startswith(".tmp-")
                  or p.name.endswith(".part"))


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# -- a completed run ---------------------------------------------------------------------


def test_round_trip_stores_every_file_and_catalogue_row(runs_dir, register):
    exp = register(square_experiment)
    params = SquareParams(n=21)
    store = RunStore(runs_dir)
    record = store.execute(exp, params, progress=False)

    folder = runs_dir / record.run_id
    assert record.path == folder and record.status == "passed"
    names = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert names == {"params.json", "results.parquet", "verdict.json", "figures/curve.png",
                     "report.html", "log.txt", "metadata.json"}
    assert (folder / "figures/curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plt.get_fignums() == []  # the figure was closed after saving

    expected = square_experiment(params)
    plt.close("all")
    pd.testing.assert_frame_equal(pd.read_parquet(folder / "results.parquet"), expected.table)
    verdict = json.loads((folder / "verdict.json").read_text())
    assert verdict == expected.verdict.to_dict()
    assert json.loads((folder / "params.json").read_text()) == params.to_dict()

    (row,) = _rows(runs_dir)
    assert row["run_id"] == record.run_id and row["experiment"] == exp.name
    assert row["status"] == "passed" and row["pid"] == os.getpid()
    assert row["params_hash"] == hashlib.sha256(params.to_json().encode()).hexdigest()
    assert row["verdict_summary"] == "agrees (1/1 evidence checks passed)"
    assert row["path"] == record.run_id and row["ended"] >= row["started"]
    assert _leftovers(runs_dir) == []


def test_metadata_has_versions_seed_wall_time_and_experiment_metadata(runs_dir, register):
    exp = register(square_experiment)
    record = RunStore(runs_dir).execute(exp, SquareParams(seed=7), progress=False)
    meta = json.loads((record.path / "metadata.json").read_text())
    assert set(meta["versions"]) >= {"valleys", "torch", "numpy", "scipy", "python"}
    assert meta["seed"] == 7 and meta["wall_time_s"] >= 0
    assert meta["host"]["cpu_count"] == os.cpu_count()
    assert meta["result"] == {"grid": "uniform", "n": 11}
    assert meta["source"] == "test source" and meta["claim"] == "TEST-1 claim"
    assert meta["figures"] == {"curve": "figures/curve.png"}


def test_log_records_start_params_checks_and_wall_time(runs_dir, register):
    exp = register(square_experiment)
    record = RunStore(runs_dir).execute(exp, SquareParams(), progress=False)
    log = (record.path / "log.txt").read_text()
    assert f"start {record.run_id}" in log
    assert '"n": 11' in log
    assert "check PASS mean of x^2" in log
    assert re.search(r"wall time \d+\.\d+ s", log)


def test_disagreeing_verdict_is_status_failed_but_stored(runs_dir, register):
    exp = register(square_experiment)
    store = RunStore(runs_dir)
    record = store.execute(exp, SquareParams(offset=1e-3), progress=False)
    assert record.status == "failed"
    assert record.verdict_summary == "disagrees (0/1 evidence checks passed)"
    result = store.load_result(record.run_id)
    assert not result.verdict.passed
    assert result.verdict.checks[0].measured == pytest.approx(7 / 20 + 1e-3, abs=1e-12)


def test_load_result_round_trips_table_verdict_and_figure_paths(runs_dir, register):
    exp = register(square_experiment)
    store = RunStore(runs_dir)
    record = store.execute(exp, SquareParams(n=5), progress=False)
    result = store.load_result(record.run_id)
    expected = square_experiment(SquareParams(n=5))
    plt.close("all")
    pd.testing.assert_frame_equal(result.table, expected.table)
    assert result.verdict.to_dict() == expected.verdict.to_dict()
    assert result.metadata["grid"] == "uniform"
    assert result.metadata["figure_files"] == {"curve": str(record.path / "figures/curve.png")}


def test_object_column_with_mixed_types_is_stored_as_text(runs_dir, register):
    def mixed(p):
        verdict = Verdict()
        verdict.add("ok", 1, 1, None, True, kind="evidence")
        return Result(pd.DataFrame({"v": [1, "a", 2.5]}), verdict)

    store = RunStore(runs_dir)
    record = store.execute(register(mixed), SquareParams(), progress=False)
    meta = json.loads((record.path / "metadata.json").read_text())
    assert meta["table_columns_as_text"] == ["v"]
    assert store.load_result(record.run_id).table["v"].tolist() == ["1", "a", "2.5"]


def test_warnings_of_the_experiment_are_logged_and_kept_in_metadata(runs_dir, register):
    def warns(p):
        warnings.warn("Lanczos stopped after 3 iterations", NonConvergenceWarning, stacklevel=1)
        verdict = Verdict()
        verdict.add("ok", 1, 1, None, True, kind="evidence")
        return Result(pd.DataFrame({"a": [1]}), verdict)

    store = RunStore(runs_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # the store keeps the caller's filters
        record = store.execute(register(warns), SquareParams(), progress=False)
    meta = json.loads((record.path / "metadata.json").read_text())
    assert len(meta["warnings"]) == 1
    assert meta["warnings"][0].startswith("NonConvergenceWarning: Lanczos stopped")
    assert "warning NonConvergenceWarning" in (record.path / "log.txt").read_text()


def test_run_ids_sort_by_time_and_are_safe_folder_names():
    t0 = datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)
    ids = [new_run_id("exp", t0 + timedelta(milliseconds=k)) for k in (0, 1, 999, 1000)]
    assert ids == sorted(ids) and len(set(ids)) == 4
    assert re.fullmatch(r"exp-20260102T030405006Z-[0-9a-f]{6}", ids[0])
    assert new_run_id("a/b <c>", t0).startswith("a_b_c-")


def test_list_is_newest_first_and_get_accepts_a_unique_prefix(runs_dir, register):
    exp = register(square_experiment)
    store = RunStore(runs_dir)
    first = store.execute(exp, SquareParams(), progress=False)
    second = store.execute(exp, SquareParams(n=3), progress=False)
    assert [r.run_id for r in store.list()] == [second.run_id, first.run_id]
    assert store.list(experiment="no-such") == []
    assert store.get(second.run_id[:-2]).run_id == second.run_id
    with pytest.raises(UnknownRunError, match="matches 2 runs"):
        store.get(exp.name)
    with pytest.raises(UnknownRunError, match="Did you mean"):
        store.get(first.run_id[:-1] + "z")


# -- failures ----------------------------------------------------------------------------


def test_experiment_that_raises_is_status_error_and_leaves_no_folder(runs_dir, register):
    def boom(p):
        plt.figure()
        raise RuntimeError("boom at step 3")

    exp = register(boom, stem="boom")
    store = RunStore(runs_dir)
    with pytest.raises(RuntimeError, match="boom at step 3") as info:
        store.execute(exp, SquareParams(), progress=False)
    plt.close("all")
    (record,) = store.list()
    assert any("recorded with status 'error'" in n for n in info.value.__notes__)
    assert record.status == "error" and record.message == "RuntimeError: boom at step 3"
    assert record.ended is not None and not record.path.exists()
    assert {p.name for p in runs_dir.iterdir() if not p.name.startswith("valleys.db")} == {
        "index.html", "logs"}
    log = record.log_path.read_text()
    assert record.log_path == runs_dir / "logs" / f"{record.run_id}.log.txt"
    assert "error: RuntimeError: boom at step 3" in log
    assert "Traceback (most recent call last)" in log and 'raise RuntimeError("boom' in log
    with pytest.raises(RunStoreError, match="status 'error' and no stored result"):
        store.load_result(record.run_id)


def test_experiment_returning_a_non_result_is_an_error(runs_dir, register):
    exp = register(lambda p: {"not": "a result"})
    store = RunStore(runs_dir)
    with pytest.raises(TypeError, match="must return a valleys Result. Got dict"):
        store.execute(exp, SquareParams(), progress=False)
    assert store.list()[0].status == "error" and _leftovers(runs_dir) == []


def test_keyboard_interrupt_is_status_interrupted_and_cleaned(runs_dir, register):
    def interrupted(p):
        raise KeyboardInterrupt

    store = RunStore(runs_dir)
    with pytest.raises(KeyboardInterrupt):
        store.execute(register(interrupted), SquareParams(), progress=False)
    (record,) = store.list()
    assert record.status == "interrupted" and not record.path.exists()
    assert "interrupted: Interrupted by the user" in record.log_path.read_text()
    assert _leftovers(runs_dir) == []


def test_params_of_another_experiment_are_refused(runs_dir, register):
    @dataclass(frozen=True)
    class OtherParams(Params):
        k: int = 1

    exp = register(square_experiment)
    with pytest.raises(InvalidParameterError, match="takes SquareParams parameters. Got Other"):
        RunStore(runs_dir).execute(exp, OtherParams(), progress=False)


def test_unwritable_runs_dir_raises_run_store_error(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(RunStoreError, match=r"Cannot write the run store at .*a_file/runs: .*"
                                            r"Use --runs-dir or VALLEYS_RUNS"):
        RunStore(blocker / "runs")


def test_corrupt_catalogue_raises_run_store_error(tmp_path):
    (tmp_path / "valleys.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(RunStoreError, match="Cannot use the run catalogue"):
        RunStore(tmp_path)


def test_runs_dir_resolution_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VALLEYS_RUNS", raising=False)
    assert resolve_runs_dir() == tmp_path / "runs"
    monkeypatch.setenv("VALLEYS_RUNS", str(tmp_path / "env"))
    assert resolve_runs_dir() == tmp_path / "env"
    assert RunStore().root == tmp_path / "env"
    assert resolve_runs_dir(tmp_path / "explicit") == tmp_path / "explicit"


# -- processes that die ------------------------------------------------------------------

SLEEPER_MODULE = '''
import time
from dataclasses import dataclass

import pandas as pd

from valleys.experiments import Params, Result, Verdict, experiment


@dataclass(frozen=True)
class SleepParams(Params):
    seconds: float = 120.0


@experiment("{name}", source="test", claim="TEST sleeps", params=SleepParams)
def sleeper(p):
    time.sleep(p.seconds)
    return Result(pd.DataFrame({{"a": [1]}}), Verdict())
'''


def test_sigkilled_run_leaves_no_result_and_next_open_marks_it_stale(tmp_path):
    name = f"test-sleeper-{uuid.uuid4().hex[:8]}"
    (tmp_path / "sleeper_experiments.py").write_text(SLEEPER_MODULE.format(name=name))
    root = tmp_path / "runs"
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        import sleeper_experiments
        from valleys.experiments import REGISTRY
        from valleys.runs import RunStore
        RunStore({str(root)!r}).execute(REGISTRY[{name!r}], None, progress=False)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE)
    try:
        _wait_until_sleeping(root, proc)
    finally:
        proc.kill()
        proc.wait(timeout=30)
        proc.stderr.close()

    (row,) = _rows(root)
    assert row["status"] == "running" and row["pid"] == proc.pid
    assert len(list(root.glob(".tmp-*"))) == 1

    store = RunStore(root)
    (record,) = store.list()
    assert record.status == "stale" and f"pid {proc.pid}" in record.message
    assert _leftovers(root) == [] and not record.path.exists()
    assert record.run_id in (root / "index.html").read_text()
    assert "params" in record.log_path.read_text()  # the partial log is kept


def _wait_until_sleeping(root, proc, limit_s=60.0):
    """Wait until the child's run is catalogued and its log shows the experiment started."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the child exited early: {proc.stderr.read().decode()}")
        logs = list(root.glob(".tmp-*/log.txt.part"))
        if logs and "params" in logs[0].read_text():
            return
        time.sleep(0.1)
    pytest.fail("the child did not start its run in time")


def _fake_running(root, *, pid, host=None, boot_id=None):
    here = RunStore(root)  # opens (and cleans) before the fake row exists
    catalogue = Catalogue(root)
    from valleys.runs.liveness import current_host

    ident = current_host()
    run_id = new_run_id("test-fake", datetime.now(UTC))
    record = RunRecord(run_id, "test-fake", "0" * 64, "running", datetime.now(UTC).isoformat(),
                       None, pid, None, root / run_id, None,
                       ident.host if host is None else host,
                       ident.boot_id if boot_id is None else boot_id)
    catalogue.insert(record)
    (root / f".tmp-{run_id}").mkdir()
    return here, run_id


def test_running_row_of_a_live_process_is_left_alone(runs_dir):
    _, run_id = _fake_running(runs_dir, pid=os.getpid())
    store = RunStore(runs_dir)
    assert store.get(run_id).status == "running"
    assert (runs_dir / f".tmp-{run_id}").is_dir()


def test_running_row_from_a_previous_boot_is_stale(runs_dir):
    _, run_id = _fake_running(runs_dir, pid=os.getpid(), boot_id="an-earlier-boot")
    assert RunStore(runs_dir).get(run_id).status == "stale"
    assert not (runs_dir / f".tmp-{run_id}").exists()


def test_running_row_from_another_host_is_left_alone(runs_dir):
    _, run_id = _fake_running(runs_dir, pid=_dead_pid(), host="another-host.example")
    assert RunStore(runs_dir).get(run_id).status == "running"


def test_cleanup_stale_marks_dead_pid_and_removes_orphan_tmp_folders(runs_dir):
    store, run_id = _fake_running(runs_dir, pid=_dead_pid())
    (runs_dir / ".tmp-orphan-without-row").mkdir()
    (changed,) = store.cleanup_stale()
    assert changed.run_id == run_id and changed.status == "stale"
    assert _leftovers(runs_dir) == []


def test_run_killed_after_its_rename_is_recovered_from_its_verdict(runs_dir, register):
    exp = register(square_experiment)
    record = RunStore(runs_dir).execute(exp, SquareParams(offset=1.0), progress=False)
    conn = sqlite3.connect(runs_dir / "valleys.db")
    with conn:
        conn.execute("UPDATE runs SET status='running', ended=NULL, verdict_summary=NULL, "
                     "pid=? WHERE run_id=?", (_dead_pid(), record.run_id))
    conn.close()
    recovered = RunStore(runs_dir).get(record.run_id)
    assert recovered.status == "failed"
    assert recovered.verdict_summary == "disagrees (0/1 evidence checks passed)"


def test_catalogue_uses_wal_mode(runs_dir):
    RunStore(runs_dir)
    conn = sqlite3.connect(runs_dir / "valleys.db")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_store_that_cannot_write_the_result_raises_run_store_error(runs_dir, register,
                                                                   monkeypatch):
    from valleys.runs import writer

    def disk_full(folder, table):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer, "write_table", disk_full)
    store = RunStore(runs_dir)
    with pytest.raises(RunStoreError, match="No space left on device. Use --runs-dir"):
        store.execute(register(square_experiment), SquareParams(), progress=False)
    plt.close("all")
    (record,) = store.list()
    assert record.status == "error" and "No space left" in record.message
    assert _leftovers(runs_dir) == [] and not record.path.exists()


def test_failing_on_start_callback_leaves_an_error_row_and_no_folder(runs_dir, register):
    def on_start(record):
        raise RuntimeError("callback failed")

    store = RunStore(runs_dir)
    with pytest.raises(RuntimeError, match="callback failed"):
        store.execute(register(square_experiment), SquareParams(), progress=False,
                      on_start=on_start)
    assert store.list()[0].status == "error" and _leftovers(runs_dir) == []


@given(st.text(max_size=40), st.datetimes(min_value=datetime(2000, 1, 1),
                                         max_value=datetime(2999, 1, 1)))
def test_run_id_is_always_one_safe_folder_name(name, moment):
    run_id = new_run_id(name, moment.replace(tzinfo=UTC))
    assert re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]*-\d{8}T\d{9}Z-[0-9a-f]{6}", run_id)


def test_json_of_metadata_makes_numpy_torch_and_non_finite_values_plain():
    import torch

    from valleys.runs.jsonio import dumps, to_jsonable

    value = {"a": np.float64(0.5), "b": torch.tensor([1.0, 2.0]), "c": float("inf"),
             "d": (np.int64(3), None), 4: torch.tensor(7), "e": SquareParams(n=2)}
    plain = to_jsonable(value)
    assert plain == {"a": 0.5, "b": [1.0, 2.0], "c": "inf", "d": [3, None], "4": 7,
                     "e": {"seed": 0, "n": 2, "tol": 1e-12, "offset": 0.0}}
    assert json.loads(dumps(value)) == plain


def test_a_catalogue_from_before_undecided_runs_is_migrated(tmp_path):
    """A store created before the ``undecided`` status keeps its rows and accepts the status."""
    import sqlite3

    from valleys.runs.catalogue import DB_NAME, Catalogue
    from valleys.runs.record import UNDECIDED

    old_schema = """CREATE TABLE runs (run_id TEXT PRIMARY KEY, experiment TEXT NOT NULL,
        params_hash TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN
        ('running', 'passed', 'failed', 'error', 'stale', 'interrupted')), started TEXT NOT NULL,
        ended TEXT, pid INTEGER NOT NULL, verdict_summary TEXT, path TEXT NOT NULL, message TEXT,
        host TEXT NOT NULL DEFAULT '', boot_id TEXT NOT NULL DEFAULT '');
        CREATE INDEX runs_by_status ON runs(status);"""
    conn = sqlite3.connect(tmp_path / DB_NAME)
    conn.executescript(old_schema)
    conn.execute("INSERT INTO runs VALUES ('a-1', 'a', 'h', 'passed', '2026-01-01T00:00:00Z', NULL, 1,"
                 " 'agrees', '/x/a-1', NULL, 'host', '')")
    conn.commit()
    conn.close()
    catalogue = Catalogue(tmp_path)
    (row,) = catalogue.all()
    assert (row.run_id, row.status, row.verdict_summary) == ("a-1", "passed", "agrees")
    catalogue.finish("a-1", UNDECIDED, "2026-01-01T00:00:01Z", verdict_summary="not covered")
    assert catalogue.all()[0].status == UNDECIDED


def _not_covered_experiment(p: SquareParams) -> Result:
    """A run whose only instance lies outside its theorem's hypotheses."""
    verdict = Verdict()
    verdict.hypothesis("n >= 100 (hypothesis)", p.n, ">= 100", held=p.n >= 100)
    verdict.not_covered("mean of x^2", 0.0, "no instance meets n >= 100")
    return Result(pd.DataFrame({"x": [0.0]}), verdict, {}, {})


def test_a_not_covered_verdict_is_stored_as_undecided(tmp_path, register):
    exp = register(_not_covered_experiment, stem="uncovered")
    store = RunStore(tmp_path)
    record = store.execute(exp, SquareParams(n=5), progress=False)
    assert record.status == "undecided" and record.completed
    stored = store.load_result(record.run_id)
    assert stored.verdict.outcome == "not covered"
    assert _rows(tmp_path)[0]["verdict_summary"].startswith("not covered")
