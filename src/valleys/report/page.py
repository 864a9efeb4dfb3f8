"""What a run's report page shows, as plain data (the report never reads run files)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class RunPage:
    """Everything one run's ``report.html`` displays.

    Args:
        run_id: the run id.
        experiment: the experiment name.
        source: the seed document and statement the experiment checks.
        claim: the claim ID(s) and statement.
        status: the run status (``passed`` / ``failed`` for completed runs).
        params: parameter name -> value.
        verdict: ``Verdict.to_dict()``.
        table: the result table (only the first rows are shown).
        figures: figure name -> path of its PNG relative to the report.
        metadata: provenance (versions, seed, wall time, host) and experiment metadata.
        started: ISO start time.
        surfaces: surface name -> ``{"x", "y", "losses"}`` arrays (2-D ones are shown as
            interactive 3-D surfaces).
        notes: what was left out of the page and why (unsafe or oversized stored files).
    """

    run_id: str
    experiment: str
    source: str
    claim: str
    status: str
    params: dict[str, Any]
    verdict: dict[str, Any]
    table: pd.DataFrame
    figures: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    started: str = ""
    surfaces: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
