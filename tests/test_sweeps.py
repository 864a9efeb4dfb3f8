"""Sweeps: grid parsing, storage, resume after SIGKILL, failures, concurrency, Dask, bad input.

The tasks are a test-only experiment (``tests/sweep_toys.py``): y = a x for n standard
normal x drawn from the seed, so every table value has an independent closed form.
"""

import hashlib
import math
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sweep_toys

from valleys.cli import main
from valleys.errors import InvalidParameterError
from valleys.experiments import REGISTRY
from valleys.report.sweep_report import band
from valleys.runs import RunStore
from valleys.runs.catalogue import Catalogue
from valleys.runs.sweep import Sweeps, build_sweep, read_task_file
from valleys.runs.sweep_catalogue import SweepCatalogue
from valleys.runs.sweep_spec import parse_seeds, split_values

TOY = sweep_toys.TOY
sweep_toys.unregister()  # registered only while a test of this file runs (fixture below)
TESTS = Path(__file__).resolve().parent
SRC = TESTS.parent / "src"
DRIVER = ("import sys; import sweep_toys; from valleys.cli import main; "
          "sys.exit(main(sys.argv[1:]))")


@pytest.fixture(autouse=True)
def toys():
    sweep_toys.register()
    yield
    sweep_toys.unregister()


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _sweep(capsys, runs, *args):
    return _run(capsys, "--runs-dir", runs, "sweep", TOY, *args)


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _sweep_dir(runs: Path) -> Path:
    (folder,) = [p for p in Path(runs).iterdir() if p.name.startswith("sweep-")]
    return folder


def _driver(runs: Path, *args) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(TESTS)])}
    cmd = [sys.executable, "-c", DRIVER, "--runs-dir", str(runs), "sweep", TOY, *map(str, args)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _done(runs: Path) -> int:
    db = Path(runs) / "valleys.db"
    if not db.is_file():
        return 0
    try:
        with sqlite3.connect(db, timeout=30) as conn:
            return conn.execute("SELECT COUNT(*) FROM sweep_tasks WHERE status='done'").fetchone()[0]
    except sqlite3.OperationalError:  # tables not created yet
        return 0


# -- grid syntax ------------------------------------------------------------------------


def test_seeds_and_values_parse():
    assert parse_seeds("0..3") == (0, 1, 2, 3)
    assert parse_seeds("0..2,7") == (0, 1, 2, 7)
    assert parse_seeds("5") == (5,)
    assert split_values("(8,8),(16,16)") == ["(8,8)", "(16,16)"]
    assert split_values("1, 2.5") == ["1", "2.5"]
    for bad in ("3..1", "a", "", "1,,2", "-1", "1,1", "1..x"):
        with pytest.raises(InvalidParameterError):
            parse_seeds(bad)


def test_grid_is_typed_by_the_params_fields_and_expanded_seeds_innermost():
    spec, tasks = build_sweep(TOY, ["a=1,2.5", "widths=(8,8),(16,)"], "0..1", quick=True)
    assert spec.grid == (("a", (1.0, 2.5)), ("widths", ((8, 8), (16,))))
    assert len(tasks) == spec.n_tasks == 8
    assert [t.point for t in tasks[:3]] == [{"a": 1.0, "widths": [8, 8], "seed": 0},
                                             {"a": 1.0, "widths": [8, 8], "seed": 1},
                                             {"a": 1.0, "widths": [16], "seed": 0}]
    assert tasks[0].params["n"] == 4  # the quick preset
    assert tasks[0].module == "sweep_toys"
    assert len({t.key for t in tasks}) == 8
    again, _ = build_sweep(TOY, ["a=1,2.5", "widths=(8,8),(16,)"], "0..1", quick=True)
    assert again.sweep_id == spec.sweep_id  # the same command names the same sweep
    other, _ = build_sweep(TOY, ["a=1,2.5", "widths=(8,8),(16,)"], "0..2", quick=True)
    assert other.sweep_id != spec.sweep_id


def test_band_is_the_student_t_interval_of_the_mean():
    mean, lo, hi, n = band([1.0, 2.0, 3.0])
    half = 4.302652729749464 / math.sqrt(3)  # t_{0.975, 2} * s / sqrt(n), s = 1
    assert (mean, n) == (2.0, 3)
    assert lo == pytest.approx(2.0 - half, rel=1e-12) and hi == pytest.approx(2.0 + half, rel=1e-12)
    assert band([4.0])[:3] == (4.0, 4.0, 4.0)


# -- bad input: one line, exit 2, nothing stored ----------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("args, fragment", [
    (["--grid", "a"], "expects key=v1,v2"),
    (["--grid", "zzz=1,2"], "nknown parameter 'zzz'"),
    (["--grid", "n=abc"], "must be of type int"),
    (["--grid", "n="], "empty value list"),
    (["--grid", "n=3,,4"], "empty value"),
    (["--grid", "n=3,3"], "repeats a value"),
    (["--grid", "widths=(8,8"], "Unbalanced brackets"),
    (["--grid", "seed=1,2"], "--seeds"),
    (["--grid", "n=3", "--grid", "n=4"], "given twice"),
    (["--grid", "n=3", "--seeds", "5..3"], "is empty"),
    (["--grid", "n=3", "--seeds", "x"], "--seeds expects"),
    (["--grid", "n=3", "--scheduler", "tcp://127.0.0.1:{port}", "--connect-timeout", "1"],
     "within 1 s"),
    (["--grid", "n=3", "--scheduler", ""], "Got an empty one"),
    (["--grid", "n=3", "--scheduler", "  "], "Got an empty one"),
])
def test_bad_input_is_one_line_exit_2_and_stores_nothing(capsys, tmp_path, args, fragment):
    runs = tmp_path / "runs"
    args = [a.format(port=_free_port()) for a in args]
    code, out, err = _sweep(capsys, runs, *args)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("valleys: error: "), err
    assert fragment in lines[0]
    assert not runs.exists()


def test_params_validate_hook_refuses_a_grid_point_before_anything_runs(capsys, tmp_path, monkeypatch):
    def validate(self):
        if self.n < 2:
            raise InvalidParameterError(f"n must be >= 2. Got {self.n}.")

    monkeypatch.setattr(sweep_toys.ToyParams, "validate", validate, raising=False)
    code, _, err = _sweep(capsys, tmp_path / "runs", "--grid", "n=3,1", "--workers", "0")
    assert code == 2
    assert "n must be >= 2. Got 1." in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


# -- storing, merging, showing ----------------------------------------------------------


def test_sweep_stores_one_file_per_task_and_a_merged_table(capsys, tmp_path):
    runs = tmp_path / "runs"
    code, out, err = _sweep(capsys, runs, "--grid", "a=1,2", "--grid", "widths=(2,3),(5,)",
                            "--seeds", "0..2", "--workers", "0")
    assert code == 0, err
    folder = _sweep_dir(runs)
    assert f"sweep {folder.name}: 12 task(s), 0 already stored" in out
    assert len(list((folder / "tasks").glob("*.parquet"))) == 12
    table = pd.read_parquet(folder / "sweep.parquet")
    assert list(table.columns[:5]) == ["task", "seed", "a", "widths", "passed"]
    assert len(table) == 12 * 5  # n = 5 rows per task
    for (_task, seed, a), rows in table.groupby(["task", "seed", "a"]):
        x = np.random.default_rng(seed).standard_normal(5)  # independent recomputation
        np.testing.assert_array_equal(rows["x"].to_numpy(), x)
        np.testing.assert_array_equal(rows["y"].to_numpy(), a * x)
    assert set(table["widths"]) == {"[2, 3]", "[5]"}
    assert set(table.loc[table["widths"] == "[5]", "width_sum"]) == {5}
    summary = pd.read_parquet(folder / "summary.parquet")
    assert len(summary) == 12 and summary["passed"].all()
    assert np.allclose(summary["check:fitted slope"], summary["a"], rtol=0, atol=1e-12)
    frame, info = read_task_file(next((folder / "tasks").glob("00000-*.parquet")))
    assert info["verdict"]["passed"] and info["task"]["point"] == {"a": 1.0, "widths": [2, 3], "seed": 0}
    assert (folder / "figures" / "passed_vs_a.png").is_file()
    assert (folder / "figures" / "check_fitted_slope_vs_a.png").is_file()
    report = (folder / "report.html").read_text()
    assert "check:fitted slope vs a" in report and "12/12 tasks done" in report and ">COMPLETE<" in report
    # show, runs and the index list the sweep
    code, out, _ = _run(capsys, "--runs-dir", runs, "show", folder.name[:-3])
    assert code == 0 and f"sweep:      {folder.name}" in out and "status:     complete" in out
    assert "  a = 1.0, 2.0" in out and "  seeds = 0, 1, 2" in out
    code, out, _ = _run(capsys, "--runs-dir", runs, "runs")
    assert code == 0 and folder.name in out and "12/12 tasks done" in out
    assert folder.name in (runs / "index.html").read_text()


def test_run_store_holds_no_pickles(capsys, tmp_path):
    runs = tmp_path / "runs"
    _sweep(capsys, runs, "--grid", "a=1,3", "--workers", "0", "--quick")
    allowed = {".json", ".parquet", ".png", ".html", ".db", ".db-wal", ".db-shm"}
    files = [p for p in runs.rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert any(path.name.endswith(s) for s in allowed), path
        assert not path.read_bytes().startswith(b"\x80"), f"{path} looks like a pickle"


def test_compare_shows_two_sweeps_and_two_runs_side_by_side(capsys, tmp_path):
    runs = tmp_path / "runs"
    ids = []
    for seeds in ("0..1", "0..2"):
        _, out, _ = _sweep(capsys, runs, "--grid", "a=1,2", "--seeds", seeds, "--workers", "0",
                           "--quick")
        ids.append(out.split()[1].rstrip(":"))
    first, second = ids
    code, out, _ = _run(capsys, "--runs-dir", runs, "compare", first, second)
    assert code == 0
    seeds = next(ln for ln in out.splitlines() if " seeds " in ln)
    assert seeds.startswith("*") and "0,1 " in seeds and seeds.endswith("0,1,2")
    assert "pass fraction" in out and "(n=4)" in out and "(n=6)" in out
    ids = []
    for a in ("1", "3"):
        _, out, _ = _run(capsys, "--runs-dir", runs, "run", TOY, "--quick", "--set", f"a={a}")
        ids.append(out.splitlines()[0].removeprefix("run "))
    code, out, _ = _run(capsys, "--runs-dir", runs, "compare", *ids)
    line = next(ln for ln in out.splitlines() if "param a " in ln)
    assert line.startswith("*") and line.split()[-2:] == ["1", "3"]
    assert next(ln for ln in out.splitlines() if "param n " in ln).startswith(" ")


def test_old_catalogue_stays_readable_and_gains_sweep_tables(capsys, tmp_path):
    runs = tmp_path / "runs"
    code, out, _ = _run(capsys, "--runs-dir", runs, "run", TOY, "--quick")
    run_id = out.splitlines()[0].removeprefix("run ")
    _run(capsys, "--runs-dir", runs, "runs")
    _run(capsys, "--runs-dir", runs, "report")
    store = RunStore(runs)
    assert not SweepCatalogue(store.catalogue, create=False).exists()  # reading adds nothing
    _sweep(capsys, runs, "--grid", "a=1,2", "--workers", "0", "--quick")
    assert SweepCatalogue(store.catalogue, create=False).exists()
    assert [r.run_id for r in Catalogue(runs).all()] == [run_id]  # the runs table as before
    code, out, _ = _run(capsys, "--runs-dir", runs, "runs")
    assert run_id in out and "sweep-" in out


def _read_only(root: Path, monkeypatch) -> None:
    """chmod -R a-w ``root``; root ignores file modes, so then the store is also told so."""
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)
    if os.geteuid() == 0:
        from valleys.runs import store as store_module

        monkeypatch.setattr(store_module, "_writable", lambda folder: False)


def _files(root: Path) -> list[str]:
    """Every file under ``root`` but SQLite's own WAL index (a reader may create it)."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if not p.name.endswith(("-shm", "-wal")))


def test_show_and_compare_read_a_read_only_store(capsys, tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    ids = []
    for seeds in ("0..1", "0..2"):
        _, out, _ = _sweep(capsys, runs, "--grid", "a=1,2", "--seeds", seeds, "--workers", "0",
                           "--quick")
        ids.append(out.split()[1].rstrip(":"))
    dead = subprocess.Popen([sys.executable, "-c", ""])
    dead.wait()
    conn = sqlite3.connect(runs / "valleys.db")  # as if its driver had died mid-sweep
    with conn:
        conn.execute("UPDATE sweeps SET status='running', pid=? WHERE sweep_id=?",
                     (dead.pid, ids[1]))
    conn.close()
    before = _files(runs), (runs / "valleys.db").read_bytes()
    _read_only(runs, monkeypatch)
    try:
        code, out, err = _run(capsys, "--runs-dir", runs, "show", ids[0])
        assert code == 0, err
        assert f"sweep:      {ids[0]}" in out and "verdicts:   agree in 4/4 done task(s)" in out
        code, out, err = _run(capsys, "--runs-dir", runs, "show", ids[1])
        assert code == 0, err
        assert "status:     running" in out  # stale, but a read-only store is not rewritten
        code, out, err = _run(capsys, "--runs-dir", runs, "compare", ids[0], ids[1])
        assert code == 0, err
        assert "(n=4)" in out and "(n=6)" in out
        code, out, err = _run(capsys, "--runs-dir", runs, "runs")
        assert code == 0 and ids[0] in out and ids[1] in out, err
    finally:
        for path in [runs, *runs.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
    assert (_files(runs), (runs / "valleys.db").read_bytes()) == before


# -- executors, failures, resume, concurrency ------------------------------------------


def test_local_pool_records_raising_and_dying_tasks_and_retries_only_failed(capsys, tmp_path):
    runs, marker = tmp_path / "runs", tmp_path / "marker"
    marker.touch()
    args = ["--grid", "a=1,2", "--seeds", "0..3", "--set", "die_seed=2", "fail_seed=1",
            f"fail_if_exists={marker}", "--workers", "2"]
    code, out, _ = _sweep(capsys, runs, *args)
    assert code == 1
    assert "incomplete: 4/8 tasks done, 4 failed" in out
    assert "FAILED task 1 (a=1.0, seed=1): ValueError: task of seed 1 fails" in out
    assert "FAILED task 2 (a=1.0, seed=2): WorkerDied: the worker process running this task " \
           "died with exit code 3." in out
    sweeps = Sweeps(RunStore(runs))
    (record,) = sweeps.list()
    assert record.status == "incomplete"
    assert len(sweeps.table(record.sweep_id)) == 4 * 5
    assert len(list((record.path / "tasks").glob("*.error.json"))) == 4
    # without --retry-failed nothing runs again
    code, out, _ = _sweep(capsys, runs, *args)
    assert "8 task(s), 4 already stored, 4 failed before (--retry-failed reruns them), 0 to run" in out
    assert [t.attempts for t in sweeps.tasks(record.sweep_id)] == [1] * 8
    # the cause of the seed-1 failures is gone: --retry-failed reruns the four failed only
    marker.unlink()
    code, out, _ = _sweep(capsys, runs, *args, "--retry-failed")
    assert "4 already stored, 4 to run" in out and "6/8 tasks done, 2 failed" in out
    tasks = sweeps.tasks(record.sweep_id)
    assert [t.attempts for t in tasks] == [1, 2, 2, 1, 1, 2, 2, 1]
    assert [t.status for t in tasks] == ["done", "done", "failed", "done"] * 2
    assert len(sweeps.table(record.sweep_id)) == 6 * 5


def test_sigkill_of_the_driver_then_the_same_command_runs_only_missing_tasks(capsys, tmp_path):
    """The driver is killed while its one worker holds task 3 (seed 3 waits at a closed gate and marks
    itself started), after tasks 0-2 are stored: no timing race decides what is done when it dies."""
    runs, reference, gate = tmp_path / "runs", tmp_path / "reference", tmp_path / "gate"
    started = gate.with_name("gate.started")
    args = ["--grid", "a=1,2", "--seeds", "0..4", "--set", "gate_seed=3", f"gate={gate}"]
    proc = _driver(runs, *args, "--workers", "1")
    deadline = time.monotonic() + 300
    while not (started.exists() and _done(runs) == 3) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    assert started.exists() and _done(runs) == 3
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    gate.touch()  # the orphaned worker may finish now; only the driver writes the store
    sweeps = Sweeps(RunStore(runs))
    (record,) = sweeps.list()
    assert record.status == "stale"
    before = {t.idx: t.ended for t in sweeps.tasks(record.sweep_id) if t.status == "done"}
    assert sorted(before) == [0, 1, 2]
    code, out, _ = _sweep(capsys, runs, *args, "--workers", "0")
    assert code == 0
    assert f"10 task(s), {len(before)} already stored, {10 - len(before)} to run" in out
    tasks = sweeps.tasks(record.sweep_id)
    assert all(t.status == "done" and t.attempts == 1 for t in tasks)
    assert {t.idx: t.ended for t in tasks if t.idx in before} == before
    code, _, _ = _sweep(capsys, reference, *args, "--workers", "0")
    assert code == 0
    assert _sha(_sweep_dir(runs) / "sweep.parquet") == _sha(_sweep_dir(reference) / "sweep.parquet")
    assert _sha(_sweep_dir(runs) / "summary.parquet") == _sha(_sweep_dir(reference) / "summary.parquet")


def test_four_concurrent_sweeps_into_one_catalogue_corrupt_nothing(capsys, tmp_path):
    runs = tmp_path / "runs"
    procs = [_driver(runs, "--grid", f"a={k}", "--grid", "n=3,4", "--seeds", "0..4",
                     "--workers", "0") for k in (1, 2, 3, 4)]
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, (out, err)
    with sqlite3.connect(runs / "valleys.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    sweeps = Sweeps(RunStore(runs))
    records = sweeps.list()
    assert len(records) == 4 and all(r.status == "complete" and r.n_done == 10 for r in records)
    for record in records:
        table = sweeps.table(record.sweep_id)
        assert len(table) == 5 * 3 + 5 * 4
        a = record.spec["grid"][0][1][0]
        np.testing.assert_array_equal(table["y"].to_numpy(), a * table["x"].to_numpy())
    _run(capsys, "--runs-dir", runs, "report")
    index = (runs / "index.html").read_text()
    assert all(r.sweep_id in index for r in records)


def test_busy_sweep_is_refused(capsys, tmp_path):
    runs = tmp_path / "runs"
    _sweep(capsys, runs, "--grid", "a=1,2", "--workers", "0", "--quick")
    folder = _sweep_dir(runs)
    with sqlite3.connect(runs / "valleys.db") as conn:  # a live process (our parent) holds it
        conn.execute("UPDATE sweeps SET status='running', pid=?", (os.getppid(),))
    code, _, err = _sweep(capsys, runs, "--grid", "a=1,2", "--workers", "0", "--quick")
    assert code == 2 and f"Sweep {folder.name} is being run by process {os.getppid()}" in err


@pytest.mark.slow
def test_dask_local_cluster_returns_the_same_table_as_the_local_pool(capsys, tmp_path):
    import distributed  # in the test extra: the Dask executor is always tested
    args = ["--grid", "a=1,2", "--grid", "n=3,6", "--seeds", "0..2"]
    code, _, err = _sweep(capsys, tmp_path / "local", *args, "--workers", "2")
    assert code == 0, err
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        code, out, err = _sweep(capsys, tmp_path / "dask", *args, "--scheduler",
                                cluster.scheduler_address)
    assert code == 0, err
    assert f"on Dask scheduler {cluster.scheduler_address}" in out
    local, dask = _sweep_dir(tmp_path / "local"), _sweep_dir(tmp_path / "dask")
    pd.testing.assert_frame_equal(pd.read_parquet(local / "sweep.parquet"),
                                  pd.read_parquet(dask / "sweep.parquet"), check_exact=True)
    assert _sha(local / "sweep.parquet") == _sha(dask / "sweep.parquet")
    assert TOY in REGISTRY


# -- Dask failure modes -----------------------------------------------------------------

CLUSTER = """
import sys, time
import distributed
cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=6, processes=False,
                                   protocol="tcp", host="127.0.0.1", dashboard_address=None)
print(cluster.scheduler_address, flush=True)
while True:
    time.sleep(60)
"""


def _python(code: str, *args, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(TESTS)])}
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def _driver_run(runs: Path, *args, timeout: float) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(TESTS)])}
    cmd = [sys.executable, "-c", DRIVER, "--runs-dir", str(runs), "sweep", TOY, *map(str, args)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_lost_scheduler_leaves_unfinished_tasks_not_run_and_the_same_command_resumes(capsys,
                                                                                      tmp_path):
    runs, hold = tmp_path / "runs", tmp_path / "hold"
    # seed-0 tasks finish; the others wait for the hold file, which appears only after the
    # scheduler (with its worker) has been killed
    args = ["--grid", "a=1,2", "--seeds", "0..2", "--set", f"hold_file={hold}"]
    cluster = _python(CLUSTER)
    try:
        address = cluster.stdout.readline().strip()
        assert address.startswith("tcp://"), cluster.communicate(timeout=60)
        proc = _driver(runs, *args, "--scheduler", address)
        deadline = time.monotonic() + 300
        while _done(runs) < 1 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()
    finally:
        cluster.kill()
        cluster.communicate()
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 2, (out, err)
    assert err.count("\n") == 1, err
    assert err.startswith("valleys: error: Lost the Dask scheduler at " + address)
    assert "stored as not run" in err and "Run the same command again" in err
    sweeps = Sweeps(RunStore(runs))
    (record,) = sweeps.list()
    tasks = sweeps.tasks(record.sweep_id)
    done = [t.idx for t in tasks if t.status == "done"]
    assert {t.point["seed"] for t in tasks if t.status == "done"} == {0}
    assert [t.status for t in tasks if t.idx not in done] == ["pending"] * (6 - len(done))
    assert all(t.attempts == 0 for t in tasks if t.idx not in done)
    assert record.status == "interrupted" and "Lost the Dask scheduler" in record.message
    # the same command (here run locally) resumes: no --retry-failed needed
    hold.touch()
    code, out, _ = _sweep(capsys, runs, *args, "--workers", "0")
    assert code == 0
    assert f"6 task(s), {len(done)} already stored, {6 - len(done)} to run" in out
    assert all(t.status == "done" and t.attempts == 1 for t in sweeps.tasks(record.sweep_id))


@pytest.mark.slow
def test_connect_timeout_holds_for_a_server_that_accepts_and_says_nothing(tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted = []

    def accept() -> None:
        while True:
            try:
                accepted.append(server.accept()[0])
            except OSError:  # the server socket was closed
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    try:
        # before the fix this hung (> 150 s): a failure shows as TimeoutExpired
        result = _driver_run(tmp_path / "runs", "--grid", "a=1,2", "--scheduler", address,
                             "--connect-timeout", "1", timeout=120)
    finally:
        server.close()
        for conn in accepted:
            conn.close()
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "within 1 s (no Dask scheduler answered" in lines[0], lines
    assert accepted  # it did connect: the silence, not the address, was the problem
    assert not (tmp_path / "runs").exists()


BAD_ADDRESSES = """
import sys
import sweep_toys
from valleys.cli import main
runs, addresses = sys.argv[1], sys.argv[2:]
for address in addresses:
    code = main(["--runs-dir", runs, "sweep", sweep_toys.TOY, "--grid", "a=1,2",
                 "--scheduler", address, "--connect-timeout", "1"])
    print(code, flush=True)
"""  # what is left of a failed dask Client is collected at exit, as after 'valleys sweep'


@pytest.mark.slow
def test_bad_scheduler_addresses_print_one_line_each_and_no_dask_traceback(tmp_path):
    addresses = ["nonsense", "tcp://127.0.0.1", "foo://127.0.0.1:1", "inproc://x",
                 f"tcp://127.0.0.1:{_free_port()}"]
    proc = _python(BAD_ADDRESSES, tmp_path / "runs", *addresses)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert out.split() == ["2"] * len(addresses)
    lines = err.strip().splitlines()
    assert len(lines) == len(addresses), err
    for address, line in zip(addresses, lines, strict=True):
        assert line.startswith(f"valleys: error: Cannot reach the Dask scheduler at {address} ")
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_scheduler_without_workers_waits_the_worker_timeout_then_exits_2(capsys, tmp_path):
    import distributed

    with distributed.LocalCluster(n_workers=0, processes=False, protocol="tcp",
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        code, out, err = _sweep(capsys, tmp_path / "runs", "--grid", "a=1,2", "--scheduler",
                                cluster.scheduler_address, "--worker-timeout", "0.5")
    assert code == 2, (out, err)
    waiting, error = err.strip().splitlines()
    assert waiting == (f"valleys: waiting up to 0.5 s for a worker to join the Dask scheduler "
                       f"at {cluster.scheduler_address} (--worker-timeout)")
    assert error.startswith(f"valleys: error: The Dask scheduler at {cluster.scheduler_address} "
                            "has no workers after 0.5 s.")
    assert out == "" and not (tmp_path / "runs").exists()


def test_an_index_written_elsewhere_links_each_sweep_to_a_page_that_exists(capsys, tmp_path):
    runs, out = tmp_path / "runs", tmp_path / "published"
    code, _, err = _sweep(capsys, runs, "--grid", "a=1,2", "--seeds", "0", "--workers", "0")
    assert code == 0, err
    folder = _sweep_dir(runs)
    code, _, err = _run(capsys, "--runs-dir", runs, "report", "--all", "--out", out)
    assert code == 0, err
    html = (out / "index.html").read_text(encoding="utf-8")
    assert (folder / "report.html").resolve().as_uri() in html  # the store's page: it exists
    assert f'href="{folder.name}/report.html"' not in html  # no page under out/
    (folder / "report.html").unlink()
    code, _, err = _run(capsys, "--runs-dir", runs, "report", "--out", out)
    assert code == 0, err
    html = (out / "index.html").read_text(encoding="utf-8")
    assert folder.name in html and f"{folder.name}/report.html" not in html  # listed, no dead link
