"""Copy the verdicts of stored runs into ``docs/verdicts/`` for the theory catalogue.

``python scripts/collect_verdicts.py RUNS_DIR [OUT_DIR]`` reads every run folder of the run
store RUNS_DIR (``valleys --runs-dir RUNS_DIR ...``), keeps the runs whose parameters are
exactly the quick or the full preset of their experiment (runs with ``--set`` overrides or a
``--seed`` are skipped; a run of an experiment whose two presets are equal counts as both),
and writes, per preset and experiment, the newest such run:

    OUT_DIR/<quick|full>/<experiment>/verdict.json   the verdict, as stored
    OUT_DIR/<quick|full>/<experiment>/params.json    the parameters it ran with
    OUT_DIR/<quick|full>/<experiment>/run.json       run id, end time, claim, source, figures, versions
    OUT_DIR/<quick|full>/<experiment>/figures/*.png  its figures

An experiment's folder is replaced whole, so nothing of an older run is left beside a newer
one; experiments without a new run keep their stored folder. ``make docs-verdicts`` runs the
quick suite into a fresh store and calls this script (OUT_DIR defaults to docs/verdicts).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

from valleys.experiments.registry import all_experiments

#: metadata.json fields kept in run.json (no timing, host or process id: they do not describe the result).
RUN_FIELDS = ("run_id", "experiment", "ended", "claim", "source", "seed", "params_hash", "figures")


def presets_of(name: str, params: dict, presets: dict[str, dict[str, dict]]) -> list[str]:
    """The presets (``"quick"``, ``"full"``) that ``params`` is exactly, for experiment ``name``:
    both when the experiment's quick and full presets are the same, none for other parameters."""
    return [preset for preset, by_name in presets.items() if by_name.get(name) == params]


def current_presets() -> dict[str, dict[str, dict]]:
    """The quick and full parameters of every registered experiment, as their JSON round trip."""
    return {preset: {e.name: json.loads(e.params.preset(preset == "quick").to_json()) for e in all_experiments()}
            for preset in ("quick", "full")}


def newest_runs(runs_dir: Path) -> dict[tuple[str, str], Path]:
    """The newest run folder per (preset, experiment) among the preset runs of ``runs_dir``."""
    presets = current_presets()
    newest: dict[tuple[str, str], tuple[str, Path]] = {}
    for folder in sorted(p for p in runs_dir.iterdir() if (p / "metadata.json").is_file()):
        if not (folder / "verdict.json").is_file():
            continue  # failed or interrupted runs have no verdict
        meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
        params = json.loads((folder / "params.json").read_text(encoding="utf-8"))
        for preset in presets_of(meta["experiment"], params, presets):
            key = (preset, meta["experiment"])
            if key not in newest or meta["ended"] > newest[key][0]:
                newest[key] = (meta["ended"], folder)
    return {key: folder for key, (_, folder) in newest.items()}


def copy_run(folder: Path, target: Path) -> None:
    """Write the verdict, parameters, trimmed metadata and figures of ``folder`` to ``target`` (replaced whole)."""
    meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    run = {k: meta[k] for k in RUN_FIELDS if k in meta}
    run["valleys_version"] = meta.get("versions", {}).get("valleys", "")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    try:
        shutil.copy2(folder / "verdict.json", staging / "verdict.json")
        shutil.copy2(folder / "params.json", staging / "params.json")
        (staging / "run.json").write_text(json.dumps(run, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        figures = sorted((folder / "figures").glob("*.png")) if (folder / "figures").is_dir() else []
        if figures:
            (staging / "figures").mkdir()
            for fig in figures:
                shutil.copy2(fig, staging / "figures" / fig.name)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__.strip().splitlines()[2])
        return 2
    runs_dir, out_dir = Path(argv[1]), Path(argv[2] if len(argv) == 3 else "docs/verdicts")
    if not runs_dir.is_dir():
        print(f"No run store at {runs_dir}: run 'valleys --runs-dir {runs_dir} suite --quick' first.")
        return 2
    runs = newest_runs(runs_dir)
    for (preset, name), folder in sorted(runs.items()):
        copy_run(folder, out_dir / preset / name)
    counts = {p: sum(1 for k in runs if k[0] == p) for p in ("quick", "full")}
    print(f"collected {counts['quick']} quick and {counts['full']} full verdict(s) into {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
