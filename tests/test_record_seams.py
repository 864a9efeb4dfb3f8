"""The seams between the record, the run store and what it runs or renders (issue 19 items 2, 5).

- ``valleys.record`` holds what experiments and analyses produce; the old paths re-export it.
- ``Result`` and ``Verdict`` are frozen, with ``to_dict`` and ``to_frame``.
- The run store runs sweep tasks of any registered kind: a task carries its runner's dotted
  path to the worker, which imports it without any registration (a fresh worker).
- The run store renders no page itself: it calls the registered page renderer.
"""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest

import valleys.experiments
import valleys.experiments.params
import valleys.experiments.result
import valleys.record
from valleys.errors import InvalidParameterError, ValleysError
from valleys.record import Check, Result, Verdict
from valleys.runs import RunStore, pages, sweep_task
from valleys.runs.sweep import build_sweep, read_task_file, write_task_file
from valleys.runs.sweep_spec import SweepSpec, Task


def echo_runner(task):
    """A task kind's runner at module level: the table holds the task's seed."""
    verdict = Verdict()
    verdict.add("seed echoed", task["params"]["seed"], task["params"]["seed"], None, True,
                kind="evidence")
    return {"table": pd.DataFrame({"seed": [task["params"]["seed"]]}),
            "verdict": verdict.to_dict(), "metadata": {"echo": True}}


def echo_planner(name, grid, seeds, quick, fixed):
    spec = SweepSpec(name=name, grid=(), seeds=(3,), kind="echo")
    return spec, [Task("echo", name, "", {"seed": 3}, 0, {"seed": 3})]


@pytest.fixture
def echo_kind(monkeypatch):
    kinds = dict(sweep_task._KINDS)
    monkeypatch.setattr(sweep_task, "_KINDS", kinds)
    return sweep_task.register_task_kind("echo", echo_runner, echo_planner)


def _verdict(*passed: bool) -> Verdict:
    verdict = Verdict()
    for i, ok in enumerate(passed):
        verdict.add(f"check {i}", 1.0 + i, 1.0, 1e-9, ok, kind="evidence")
    return verdict


def test_old_paths_re_export_the_record():
    assert valleys.experiments.Params is valleys.record.Params
    assert valleys.experiments.params.Params is valleys.record.Params
    assert valleys.experiments.Result is valleys.experiments.result.Result is Result
    assert valleys.experiments.Verdict is valleys.experiments.result.Verdict is Verdict
    assert valleys.experiments.Experiment is valleys.record.Experiment
    assert valleys.experiments.params._hints is valleys.record.field_types


def test_result_and_verdict_are_frozen_with_to_dict_and_to_frame():
    verdict = _verdict(True, False)
    result = Result(pd.DataFrame({"x": [1.0, 2.0]}), verdict, metadata={"n": 2})
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.verdict = Verdict()
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.checks = []
    frame = verdict.to_frame()
    assert list(frame["name"]) == ["check 0", "check 1"]
    assert list(frame["passed"]) == [True, False]
    assert list(frame["measured"]) == [1.0, 2.0]
    assert result.to_frame() is result.table
    out = result.to_dict()
    assert out["verdict"] == verdict.to_dict() and out["verdict"]["passed"] is False
    assert out["metadata"] == {"n": 2}
    json.dumps(out, allow_nan=False)


def test_params_from_dict_round_trips_tuples_and_refuses_unknown_keys():
    @dataclasses.dataclass(frozen=True)
    class P(valleys.record.Params):
        widths: tuple[int, ...] = (4, 2)
        rate: float = 0.5

    p = P(seed=7, widths=(8,), rate=0.25)
    assert P.from_dict(json.loads(p.to_json())) == p
    with pytest.raises(InvalidParameterError, match="unknown"):
        P.from_dict({**p.to_dict(), "other": 1})


def test_a_task_carries_its_runner_path_and_a_fresh_worker_needs_no_registration(
        echo_kind, monkeypatch, tmp_path):
    task = Task("echo", "probe", "", {"seed": 5}, 0, {"seed": 5}).to_dict()
    sent = sweep_task.with_runner(task)
    assert sent[sweep_task.RUNNER_KEY] == f"{__name__}:echo_runner"
    monkeypatch.setattr(sweep_task, "_KINDS", {})  # a worker where nothing registered "echo"
    with pytest.raises(ValleysError, match="Unknown task kind 'echo'"):
        sweep_task.task_kind("echo")
    outcome = sweep_task.run_task(sent)
    assert outcome["ok"], outcome.get("error")
    write_task_file(tmp_path / "t.parquet", outcome)
    table, info = read_task_file(tmp_path / "t.parquet")
    assert list(table["seed"]) == [5]
    assert info["task"] == task, "the runner path travels with the task but is never stored"
    unknown = sweep_task.run_task(task)  # no path, no registration: an error outcome
    assert not unknown["ok"] and "Unknown task kind 'echo'" in unknown["error"]


def test_build_sweep_plans_by_the_kind_registered_under_the_name(echo_kind):
    spec, tasks = build_sweep("echo", [], None)
    assert spec.kind == "echo" and [t.params for t in tasks] == [{"seed": 3}]


def test_a_runner_must_be_importable_by_its_name():
    def local(task):
        return task

    with pytest.raises(InvalidParameterError, match="module level"):
        sweep_task.register_task_kind("local", local)
    with pytest.raises(InvalidParameterError, match="module:function"):
        sweep_task.register_task_kind("bad", "no_colon_here")


def _code_strings(path: Path) -> list[str]:
    """The string constants of a module's code (docstrings left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
            and node.body and isinstance(node.body[0], ast.Expr)}
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
            and isinstance(node.value, str) and id(node) not in docs]


def test_the_run_store_names_no_experiment_analysis_or_report_module():
    runs = Path(sweep_task.__file__).parent
    named = {(path.name, text) for path in sorted(runs.glob("*.py")) for text in _code_strings(path)
             if any(f"valleys.{p}" in text for p in ("experiments", "analyze", "analysis", "report"))}
    assert not named


def test_the_builtin_kinds_are_wired_by_path_to_the_application_layer():
    assert sweep_task.preload_modules() == ["valleys.runs.sweep_task", "valleys.experiments.catalog"]
    kinds = sweep_task.task_kinds()
    assert kinds["experiment"].runner == "valleys.cli.wiring:run_experiment_task"
    assert kinds["analyze"].runner == "valleys.analysis.sweep:run_analyze_task"
    for kind in ("experiment", "analyze"):
        assert callable(sweep_task.resolve(kinds[kind].runner))
        assert callable(sweep_task.resolve(kinds[kind].planner))


class _Pages:
    """A page renderer that records what the store asked it to render."""

    def __init__(self):
        self.calls = []

    def render_index(self, records, **kwargs):
        self.calls.append(("index", len(records)))
        return "<html>index</html>"


def test_the_store_renders_pages_through_the_registered_renderer(monkeypatch, tmp_path):
    fake = _Pages()
    monkeypatch.setattr(pages, "_RENDERER", {"target": fake})
    path = RunStore(tmp_path / "runs").write_index()
    assert fake.calls and fake.calls[-1] == ("index", 0)
    assert path.read_text(encoding="utf-8").startswith("<html>index</html>")
    monkeypatch.setattr(pages, "_RENDERER", {})
    with pytest.raises(ValleysError, match="renderer"):
        pages.renderer()


def test_run_stored_takes_the_store_and_opens_it_only_after_the_checks(tmp_path):
    from valleys.analysis import AnalyzeParams, run_stored
    from valleys.errors import ModelError

    opened = []
    params = AnalyzeParams(model=str(tmp_path / "missing.py") + ":make", data="digits")
    with pytest.raises(ModelError):
        run_stored(params, lambda: opened.append(1))
    assert not opened, "a bad input opens no store"
    with pytest.raises(InvalidParameterError, match="takes the run store"):
        run_stored(params, str(tmp_path / "runs"))


def test_check_is_unchanged_by_the_move():
    check = Check("c", 1.0, 1.0, None, True)
    assert check.to_dict() == {"name": "c", "measured": 1.0, "expected": 1.0, "tolerance": None,
                               "passed": True, "note": "", "kind": "evidence", "status": "passed"}


def test_the_store_runs_anything_with_a_name_params_and_run(tmp_path):
    @dataclasses.dataclass(frozen=True)
    class P(valleys.record.Params):
        value: float = 2.0

    class Job:  # not an Experiment: only the protocol's attributes
        name, source, claim, params = "plain-job", "000 test", "none", P

        def run(self, params=None):
            verdict = Verdict()
            verdict.add("value", params.value, 2.0, 0.0, params.value == 2.0, kind="evidence")
            return Result(pd.DataFrame({"value": [params.value]}), verdict)

    assert isinstance(Job(), valleys.record.Runnable)
    store = RunStore(tmp_path / "runs")
    record = store.execute(Job(), P(), progress=False)
    assert record.status == "passed" and record.experiment == "plain-job"
    assert list(store.load_result(record.run_id).table["value"]) == [2.0]
