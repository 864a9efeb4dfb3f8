"""Bad input ends before anything is stored; SIGTERM, stale runs, damaged folders, read-only
stores and the report's grouping and badges."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from valleys.cli import main
from valleys.experiments import Params, Result, Verdict, experiment
from valleys.experiments import registry as registry_module
from valleys.report.index_report import index_summary
from valleys.runs import RunStore
from valleys.runs import store as store_module
from valleys.runs.record import RUNNING, RunRecord, format_time, utc_now
from valleys.runs.runlog import RunLog
from valleys.runs.stale import tmp_folder

SRC = str(Path(__file__).resolve().parents[1] / "src")


@dataclass(frozen=True)
class TinyParams(Params):
    ok: bool = True
    size: int = 3
    LIMITS = {"ok": "one of True|False", "size": ">= 1"}


def tiny(p: TinyParams) -> Result:
    v = Verdict()
    v.add("a long measured value", list(range(40)), list(range(40)), None, p.ok, kind="evidence")
    v.add("an identity", 1.0, 1.0, 0.0, True, kind="consistency")
    v.add("the seed's typo", "sum", "mean", None, True, kind="erratum")
    return Result(pd.DataFrame({"x": range(p.size)}), v, {}, {})


def user_error(p: TinyParams) -> Result:
    from valleys.errors import DataError

    raise DataError("the data file is bad")


@pytest.fixture
def exps():
    names = {k: f"test-{k}-{uuid.uuid4().hex[:8]}" for k in ("tiny", "user")}
    experiment(names["tiny"], source="000 s", claim="SUN-x: c", params=TinyParams)(tiny)
    experiment(names["user"], source="000 s", claim="SUN-x: c", params=TinyParams)(user_error)
    yield names
    for name in names.values():
        registry_module.REGISTRY.pop(name, None)


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    d = tmp_path / "runs"
    monkeypatch.setenv("VALLEYS_RUNS", str(d))
    return d


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("argv", "fragment"), [
    (["--set", "n_starts=-5"], "sun-toy-uv: parameter n_starts must be >= 1. Got -5."),
    (["--set", "n_starts=0"], "sun-toy-uv: parameter n_starts must be >= 1. Got 0."),
    (["--set", "lr=nan"], "sun-toy-uv: parameter lr must be finite. Got nan."),
    (["--seed", "-1"], "sun-toy-uv: parameter seed must be an int in [0, 2^63). Got -1."),
    (["--seed", str(2 ** 63)], "sun-toy-uv: parameter seed must be an int in [0, 2^63)"),
])
def test_refused_parameters_exit_2_and_store_nothing(capsys, runs_dir, argv, fragment):
    code, out, err = _run(capsys, "run", "sun-toy-uv", "--quick", *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("valleys: error: ") and fragment in err, err
    assert not runs_dir.exists()  # no run, no log, no index, not even the folder


def test_empty_tuple_is_refused(capsys, runs_dir):
    code, _, err = _run(capsys, "run", "sun-ntk-pl", "--set", "widths=()")
    assert code == 2 and "sun-ntk-pl: parameter widths must be nonempty" in err
    assert not runs_dir.exists()


def test_set_before_name_works(capsys, runs_dir, exps):
    code, out, err = _run(capsys, "run", "--set", "size=5", "ok=1", exps["tiny"])
    assert code == 0, err
    run_id = out.splitlines()[0].removeprefix("run ")
    store = RunStore(runs_dir)
    assert store.details(run_id).params["size"] == 5
    code, _, err = _run(capsys, "run", "--set", "size=5")
    assert code == 2 and "no experiment name" in err


def _python(code: str, *args, env=None, **kw):
    full = {**os.environ, "PYTHONPATH": SRC, **(env or {})}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env=full, timeout=120, **kw)


@pytest.mark.parametrize("argv", [["--help"], ["frobnicate"], ["version"], ["run", "--help"]])
def test_help_typo_and_version_do_not_import_torch(argv):
    code = textwrap.dedent("""
        import sys, time
        t = time.perf_counter()
        from valleys.cli import main
        try:
            status = main(sys.argv[1:])
        except SystemExit as exc:
            status = exc.code
        print("TORCH", "torch" in sys.modules, "STATUS", status, file=sys.stderr)
    """)
    done = _python(code, *argv)
    assert "TORCH False" in done.stderr, done.stderr


def test_sigterm_ends_a_run_as_interrupted(tmp_path):
    flag = tmp_path / "started"
    script = textwrap.dedent(f"""
        import sys, time
        from dataclasses import dataclass
        from valleys.cli import main
        from valleys.experiments import Params, experiment

        @dataclass(frozen=True)
        class P(Params):
            LIMITS = {{}}

        @experiment("test-sleepy", source="000 s", claim="SUN-x: c", params=P)
        def sleepy(p):
            open({str(flag)!r}, "w").close()
            time.sleep(60)

        sys.exit(main(["run", "test-sleepy", "--runs-dir", {str(tmp_path / "runs")!r}]))
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": SRC},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 400
        while not flag.exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert flag.exists(), proc.stderr.read() if proc.poll() is not None else "never started"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    record = RunStore(tmp_path / "runs").list()[0]
    assert record.status == "interrupted" and "signal" in (record.message or "")
    assert record.log_path.is_file()


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_run_ends_at_its_last_heartbeat(tmp_path):
    store = RunStore(tmp_path / "runs")
    started = utc_now() - timedelta(hours=2)
    record = RunRecord(run_id="dead-20260101T000000000Z-aaaaaa", experiment="dead",
                       params_hash="0", status=RUNNING, started=format_time(started), ended=None,
                       pid=_dead_pid(), verdict_summary=None, path=store.root / "dead-run",
                       host=store_module.current_host().host,
                       boot_id=store_module.current_host().boot_id)
    store.catalogue.insert(record)
    tmp = tmp_folder(store.root, record.run_id)
    tmp.mkdir()
    part = tmp / "log.txt.part"
    part.write_text("start\n")
    beat = (started + timedelta(seconds=7)).timestamp()
    os.utime(part, (beat, beat))
    again = RunStore(store.root)
    stale = again.get(record.run_id)
    assert stale.status == "stale"
    assert abs(stale.wall_time - 7.0) < 1e-3  # not two hours: the last heartbeat
    assert stale.log_path.is_file() and not tmp.exists()


def test_heartbeat_touches_the_log_while_a_run_is_alive(tmp_path, monkeypatch):
    """While the experiment runs, its log is touched: the experiment sets the log's mtime an hour
    back, waits (generous deadline, no fixed sleep) for the heartbeat's next touch, and finds the
    mtime back near now (whole seconds: no sub-second mtime resolution needed)."""
    monkeypatch.setattr(store_module, "HEARTBEAT_S", 0.05)
    touched = threading.Event()
    touch = RunLog.touch

    def touch_and_tell(log):
        touch(log)
        touched.set()

    monkeypatch.setattr(RunLog, "touch", touch_and_tell)
    seen = []

    def slow(p):
        part = next((tmp_path / "runs").glob(".tmp-*/log.txt.part"))
        hour_ago = time.time() - 3600
        os.utime(part, (hour_ago, hour_ago))
        touched.clear()  # a touch from now on comes after the utime above
        seen.append(touched.wait(timeout=120))
        seen.append(part.stat().st_mtime > hour_ago + 1800)
        return tiny(p)

    name = f"test-slow-{uuid.uuid4().hex[:8]}"
    experiment(name, source="000 s", claim="SUN-x: c", params=TinyParams)(slow)
    try:
        RunStore(tmp_path / "runs").execute(registry_module.REGISTRY[name], TinyParams(),
                                            progress=False)
    finally:
        registry_module.REGISTRY.pop(name, None)
    assert seen == [True, True]


def test_report_all_skips_a_damaged_folder_and_still_writes_the_index(capsys, runs_dir, exps):
    store = RunStore(runs_dir)
    good = store.execute(registry_module.REGISTRY[exps["tiny"]], TinyParams(), progress=False)
    bad = store.execute(registry_module.REGISTRY[exps["tiny"]], TinyParams(size=4), progress=False)
    (bad.path / "verdict.json").write_text("{not json")
    (runs_dir / "index.html").unlink()
    code, out, err = _run(capsys, "report", "--all")
    assert code == 0
    assert f"warning: skipped run {bad.run_id}" in err
    html = (runs_dir / "index.html").read_text()
    assert f'href="{good.run_id}/report.html"' in html and "(folder damaged)" in html


def test_index_is_rebuilt_when_it_is_behind_the_catalogue(runs_dir, exps):
    store = RunStore(runs_dir)
    record = store.execute(registry_module.REGISTRY[exps["tiny"]], TinyParams(), progress=False)
    index = runs_dir / "index.html"
    from valleys.report import render_index

    index.write_text(render_index([]))  # as if killed before the index write
    RunStore(runs_dir)
    assert record.run_id in index.read_text()
    stamp = index.stat().st_mtime_ns
    RunStore(runs_dir)  # up to date: not rewritten
    assert index.stat().st_mtime_ns == stamp


def test_read_only_store_lists_shows_and_reports_elsewhere(capsys, runs_dir, exps, tmp_path,
                                                           monkeypatch):
    store = RunStore(runs_dir)
    record = store.execute(registry_module.REGISTRY[exps["tiny"]], TinyParams(), progress=False)
    before = (runs_dir / "valleys.db").read_bytes()
    monkeypatch.setattr(store_module, "_writable", lambda root: False)
    code, out, _ = _run(capsys, "runs")
    assert code == 0 and record.run_id in out
    code, out, _ = _run(capsys, "show", record.run_id)
    assert code == 0 and "evidence checks (1/1 passed):" in out
    assert out.index("\nevidence checks (") < out.index("\nconsistency checks (") \
        < out.index("\nerrata checks (1/1 passed):")
    out_dir = tmp_path / "elsewhere"
    code, out, err = _run(capsys, "report", "--all", "--out", str(out_dir))
    assert code == 0, err
    assert (out_dir / "index.html").is_file() and (out_dir / record.run_id / "report.html").is_file()
    code, _, err = _run(capsys, "report")
    assert code == 2 and "read-only" in err and "--out" in err and "Move" not in err
    code, _, err = _run(capsys, "run", exps["tiny"])
    assert code == 2
    ro = RunStore(runs_dir, read_only=True)
    from valleys.errors import RunStoreError

    with pytest.raises(RunStoreError, match="readonly|read-only") as info:
        ro.catalogue.finish(record.run_id, "failed", record.ended)
    assert "move that file away" not in str(info.value)
    assert (runs_dir / "valleys.db").read_bytes() == before


def test_user_errors_and_crashes_get_different_badges(runs_dir, exps):
    store = RunStore(runs_dir)
    with pytest.raises(Exception, match="bad"):
        store.execute(registry_module.REGISTRY[exps["user"]], TinyParams(), progress=False)
    html = (runs_dir / "index.html").read_text()
    assert ">USER ERROR<" in html and "1 run: 1 user error." in html


def test_index_summary_wording():
    class R:
        def __init__(self, status, message=""):
            self.status, self.message = status, message

    runs = [R("passed"), R("passed"), R("failed")] + [R("error", "TypeError: x")] * 7
    runs += [R("error", "InvalidParameterError: y")]
    assert index_summary(runs) == "11 runs: 2 agree, 1 disagrees, 1 user error, 7 crashes."
    assert index_summary([]) == "0 runs."


def test_run_page_groups_checks_and_abbreviates_long_values(runs_dir, exps):
    store = RunStore(runs_dir)
    record = store.execute(registry_module.REGISTRY[exps["tiny"]], TinyParams(), progress=False)
    html = record.report_path.read_text()
    assert html.index("Evidence —") < html.index("Consistency —") < html.index("Errata —")
    full = "[" + ", ".join(map(str, range(40))) + "]"
    assert f'title="{full}"' in html  # the full value on hover
    assert f">{full}<" not in html and "…</td>" in html  # the cell is abbreviated


def test_ntk_drift_figure_labels_the_widths_without_minor_ticks():
    from valleys.experiments.d001_sun.ntk_pl import _drift_figure

    s = pd.DataFrame({"width": [25, 50, 100, 200], "drift": [2.0, 1.5, 1.0, 0.5]})
    fig = _drift_figure(s)
    ax = fig.axes[0]
    fig.canvas.draw() if hasattr(fig.canvas, "draw") else None
    assert [t.get_text() for t in ax.get_xticklabels()] == ["25", "50", "100", "200"]
    assert ax.xaxis.get_minor_ticks() == [] or not any(
        t.label1.get_text() for t in ax.xaxis.get_minor_ticks())
