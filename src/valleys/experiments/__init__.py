"""Experiments: each checkable claim one experiment, in its own module of its source document's
package (``d003_safran_shamir/low_rank.py`` is ``safran-shamir-low-rank``)."""

from ..record import Check, Experiment, Measurement, Params, Result, Verdict
from .registry import REGISTRY, all_experiments, experiment, get_experiment

__all__ = ["Params", "Result", "Verdict", "Check", "Experiment", "Measurement", "experiment",
           "get_experiment", "all_experiments", "REGISTRY"]
