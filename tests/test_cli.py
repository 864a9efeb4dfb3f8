"""The ``valleys`` command line: commands, exit codes and one-line user errors."""

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

import valleys
from valleys.cli import main
from valleys.errors import DataError
from valleys.experiments import REGISTRY, Params, Result, Verdict, experiment
from valleys.experiments import registry as registry_module


@dataclass(frozen=True)
class LineParams(Params):
    """A line y = slope * x through n points; the check compares its fitted slope."""

    n: int = 50
    slope: float = 2.0
    tol: float = 1e-10
    QUICK = {"n": 5}


def line_fit(p: LineParams) -> Result:
    """Least-squares slope of exact data equals the slope the theory expects (2)."""
    x = pd.Series(range(p.n), dtype=float)
    y = p.slope * x
    fitted = float((x * y).sum() / (x * x).sum())
    verdict = Verdict()
    verdict.add("fitted slope", fitted, 2.0, p.tol, abs(fitted - 2.0) <= p.tol, kind="evidence")
    return Result(pd.DataFrame({"x": x, "y": y}), verdict, metadata={"n": p.n})


def bad_data(p: LineParams) -> Result:
    raise DataError("The data file d.npz must hold arrays X and Y. Got keys: a.")


def crash(p: LineParams) -> Result:
    raise ZeroDivisionError("division by zero\nsecond line")


@pytest.fixture
def exps():
    """Three registered test experiments: line (agrees unless slope changes), data, crash."""
    funcs = {"line": line_fit, "data": bad_data, "crash": crash}
    names = {k: f"test-{k}-{uuid.uuid4().hex[:8]}" for k in funcs}
    for key, func in funcs.items():
        experiment(names[key], source=f"test source {key}", claim=f"TEST-{key} claim",
                   params=LineParams)(func)
    yield names
    for name in names.values():
        REGISTRY.pop(name, None)
        registry_module.REGISTRY.pop(name, None)


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _assert_user_error(code, out, err, *fragments):
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("valleys: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


# -- commands ----------------------------------------------------------------------------


def test_list_shows_name_source_and_claim_aligned(capsys, exps):
    code, out, _ = _run(capsys, "list")
    assert code == 0
    lines = out.splitlines()
    header = lines[0]
    row = next(ln for ln in lines if ln.startswith(exps["line"]))
    assert header.split() == ["NAME", "SOURCE", "CLAIM"]
    assert row.index("test source line") == header.index("SOURCE")
    assert row.index("TEST-line claim") == header.index("CLAIM")


def test_list_claim_prints_the_module_of_each_matching_experiment(capsys, exps):
    code, out, _ = _run(capsys, "list", "--claim", "ss-t3")
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == ["NAME", "MODULE", "CLAIM"]
    assert [r.split()[:2] for r in rows] == [["safran-shamir-low-rank",
                                              "valleys.experiments.d003_safran_shamir.low_rank"]]
    code, out, _ = _run(capsys, "list", "--claim", "COO-T3.2")  # in COO-T3.1/T3.2/L3.3
    assert [r.split()[:2] for r in out.splitlines()[1:]] == [["cooper-star-core",
                                                              "valleys.experiments.d002_cooper.star_core"]]
    code, out, _ = _run(capsys, "list", "--claim", "TEST")  # a prefix up to a dash: every TEST-*
    assert {r.split()[0] for r in out.splitlines()[1:]} == set(exps.values())
    assert {r.split()[1] for r in out.splitlines()[1:]} == {__name__}


def test_list_claim_without_a_match_is_a_user_error(capsys):
    _assert_user_error(*_run(capsys, "list", "--claim", "NG-T3.4.1"), "NG-T3.4.1", "valleys list")


def test_version_prints_the_package_version(capsys):
    code, out, _ = _run(capsys, "version")
    assert code == 0 and out.startswith(f"valleys {valleys.__version__} (python ")


def test_run_prints_id_checks_summary_and_report_and_exits_0(capsys, exps, runs_dir):
    code, out, err = _run(capsys, "run", exps["line"], "--quick")
    assert code == 0, err
    lines = out.splitlines()
    run_id = lines[0].removeprefix("run ")
    assert run_id.startswith(exps["line"] + "-")
    assert lines[1] == "  PASS  fitted slope: measured 2 (expected 2, tolerance 1e-10)"
    assert lines[2].startswith(f"{exps['line']} agrees (1/1 evidence checks passed) in ")
    report = Path(lines[3].removeprefix("report: "))
    assert report == runs_dir / run_id / "report.html" and report.is_file()
    assert pd.read_parquet(runs_dir / run_id / "results.parquet").shape == (5, 2)  # quick


def test_run_that_disagrees_exits_1(capsys, exps, runs_dir):
    code, out, _ = _run(capsys, "run", exps["line"], "--set", "slope=2.5", "n=3")
    assert code == 1
    assert "  FAIL  fitted slope: measured 2.5 (expected 2" in out
    assert "disagrees (0/1 evidence checks passed)" in out


def line_outside(p: LineParams) -> Result:
    """The line check, but only lines with n >= 10 points meet its (test) hypothesis."""
    verdict = Verdict()
    held = p.n >= 10
    verdict.hypothesis("n >= 10 points", p.n, ">= 10", held)
    if held:
        verdict.add("fitted slope", p.slope, 2.0, p.tol, abs(p.slope - 2.0) <= p.tol, kind="evidence")
    else:
        verdict.not_covered("fitted slope", 2.0, "no line has n >= 10 points")
    return Result(pd.DataFrame({"n": [p.n]}), verdict)


def test_run_outside_the_hypotheses_is_undecided_and_exits_4(capsys, runs_dir):
    name = f"test-outside-{uuid.uuid4().hex[:8]}"
    experiment(name, source="test", claim="TEST outside", params=LineParams)(line_outside)
    try:
        code, out, _ = _run(capsys, "run", name, "--quick")
        assert code == 4
        assert "  NOT COVERED  fitted slope: measured no covered instance" in out
        assert f"{name} not covered (0/1 evidence checks passed; 1 undecided; 1 hypotheses not met)" in out
        code, out, _ = _run(capsys, "run", name, "--set", "n=12")
        assert code == 0 and "agrees" in out
    finally:
        REGISTRY.pop(name, None)
        registry_module.REGISTRY.pop(name, None)


def test_run_seed_and_runs_dir_options(capsys, exps, tmp_path):
    target = tmp_path / "elsewhere"
    code, out, _ = _run(capsys, "run", exps["line"], "--quick", "--seed", "11",
                        "--runs-dir", str(target))
    assert code == 0
    run_id = out.splitlines()[0].removeprefix("run ")
    assert '"seed": 11' in (target / run_id / "params.json").read_text()


def test_show_prints_params_checks_and_paths(capsys, exps, runs_dir):
    _, out, _ = _run(capsys, "run", exps["line"], "--quick")
    run_id = out.splitlines()[0].removeprefix("run ")
    code, out, _ = _run(capsys, "show", run_id[:-3])  # a unique prefix
    assert code == 0
    assert f"run:        {run_id}" in out
    assert "status:     passed — agrees (1/1 evidence checks passed)" in out
    assert "  n = 5" in out and "  slope = 2" in out
    assert "  PASS  fitted slope" in out
    assert f"report:     {runs_dir / run_id / 'report.html'}" in out


def test_show_of_an_errored_run_prints_its_message(capsys, exps, runs_dir):
    _run(capsys, "run", exps["crash"])
    code, out, _ = _run(capsys, "runs")
    assert code == 0 and "error" in out
    run_id = out.splitlines()[1].split()[0]
    code, out, _ = _run(capsys, "show", run_id)
    assert code == 0
    assert "status:     error" in out
    assert "message:    ZeroDivisionError: division by zero second line" in out
    assert "report:" not in out
    assert f"log:        {runs_dir / 'logs' / (run_id + '.log.txt')}" in out


def test_report_rebuilds_the_index_and_prints_its_path(capsys, exps, runs_dir):
    _run(capsys, "run", exps["line"], "--quick")
    (runs_dir / "index.html").unlink()
    code, out, _ = _run(capsys, "report", "--all")
    assert code == 0 and out.strip() == str(runs_dir / "index.html")
    assert exps["line"] in (runs_dir / "index.html").read_text()


def test_suite_prints_one_line_per_experiment_and_a_summary(capsys, exps, runs_dir,
                                                            monkeypatch):
    registry_module.load_all()
    ours = {name: registry_module.REGISTRY[name] for name in exps.values()}
    monkeypatch.setattr(registry_module, "REGISTRY", ours)
    code, out, _ = _run(capsys, "suite", "--quick")
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 4
    words = {ln.split()[1]: ln.split()[0] for ln in lines[:3]}
    assert words == {exps["line"]: "PASS", exps["data"]: "ERROR", exps["crash"]: "ERROR"}
    assert lines[3].startswith("suite: 3 experiments: 1 agree, 0 disagree, 0 undecided, 2 errors.")

    monkeypatch.setattr(registry_module, "REGISTRY", {exps["line"]: ours[exps["line"]]})
    code, out, err = _run(capsys, "suite", "--quick")
    assert code == 0 and "1 agree, 0 disagree, 0 undecided, 0 errors" in out
    assert err == ""  # no progress bar when stderr is not a terminal


# -- user errors: exit 2 with one line on stderr ------------------------------------------


def test_unknown_experiment_suggests_close_names(capsys, exps, runs_dir):
    typo = exps["line"][:-1]
    code, out, err = _run(capsys, "run", typo)
    _assert_user_error(code, out, err, f"No experiment named '{typo}'.", "Did you mean",
                       exps["line"])


def test_unknown_set_key_is_a_user_error(capsys, exps, runs_dir):
    code, out, err = _run(capsys, "run", exps["line"], "--set", "nope=1")
    _assert_user_error(code, out, err, "unknown parameter 'nope'", "Known: seed, n, slope, tol")


def test_set_value_of_the_wrong_type_is_a_user_error(capsys, exps, runs_dir):
    code, out, err = _run(capsys, "run", exps["line"], "--set", "n=many")
    _assert_user_error(code, out, err, "parameter n must be of type int. Got 'many'.")


def test_unwritable_runs_dir_is_a_user_error(capsys, exps, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, out, err = _run(capsys, "run", exps["line"], "--runs-dir", str(blocker / "runs"))
    _assert_user_error(code, out, err, "Cannot write the run store at", "--runs-dir")


def test_unknown_run_id_is_a_user_error(capsys, runs_dir):
    code, out, err = _run(capsys, "show", "no-such-run")
    _assert_user_error(code, out, err, "No run with id 'no-such-run'")


def test_data_error_inside_an_experiment_is_a_user_error(capsys, exps, runs_dir):
    code, out, err = _run(capsys, "run", exps["data"])
    _assert_user_error(code, out, err, "must hold arrays X and Y")


def test_internal_error_is_one_line_with_exit_3_and_debug_shows_traceback(capsys, exps,
                                                                          runs_dir):
    code, _, err = _run(capsys, "run", exps["crash"])
    assert code == 3 and len(err.splitlines()) == 1
    assert "internal error: ZeroDivisionError: division by zero second line" in err
    assert "--debug" in err
    code, _, err = _run(capsys, "--debug", "run", exps["crash"])
    assert code == 3 and "Traceback (most recent call last)" in err
    code, _, err = _run(capsys, "run", exps["crash"], "--debug")
    assert code == 3 and "Traceback (most recent call last)" in err


def test_ctrl_c_exits_130_and_records_the_run_as_interrupted(capsys, runs_dir):
    def interrupted(p):
        raise KeyboardInterrupt

    name = f"test-interrupt-{uuid.uuid4().hex[:8]}"
    experiment(name, source="s", claim="c", params=LineParams)(interrupted)
    try:
        code, _, err = _run(capsys, "run", name)
    finally:
        registry_module.REGISTRY.pop(name, None)
    assert code == 130 and err == "valleys: interrupted\n"
    _, out, _ = _run(capsys, "runs")
    assert out.splitlines()[1].split()[1] == "interrupted"


@pytest.mark.parametrize("argv", [[], ["run"], ["frobnicate"], ["run", "x", "--seed", "abc"],
                                  ["run", "x", "--bogus"], ["runs", "extra"]])
def test_usage_errors_exit_2_on_one_line(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("valleys: error: ") and err.count("\n") == 1, err
    assert "usage:" not in err


# -- as a program --------------------------------------------------------------------------


def _program(*args, cwd):
    env = {**os.environ, "VALLEYS_RUNS": str(Path(cwd) / "runs")}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120)


def test_python_m_valleys_runs_the_cli(tmp_path):
    done = _program("-m", "valleys", "version", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("valleys ")
    done = _program("-m", "valleys.cli", "list", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("NAME")


def test_program_user_error_writes_exactly_one_stderr_line(tmp_path):
    done = _program("-m", "valleys", "run", "definitely-not-an-experiment", cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("valleys: error: No experiment named")


def test_each_command_lives_in_its_own_module_of_the_cli_package():
    import argparse

    from valleys.cli import build_parser

    (commands,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    modules = {name: sub.get_default("handler").__module__ for name, sub in commands.choices.items()}
    assert modules == {name: "valleys.cli." + ("listing" if name == "list" else name) for name in modules}
    assert len(modules) == 10
