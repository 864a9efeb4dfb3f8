"""Experiments: each checkable claim one experiment, in its own module of its source document's
package (``d003_safran_shamir/low_rank.py`` is ``safran-shamir-low-rank``)."""

from .params import Params
from .registry import REGISTRY, Experiment, all_experiments, experiment, get_experiment
from .result import Check, Result, Verdict

__all__ = ["Params", "Result", "Verdict", "Check", "Experiment", "experiment",
           "get_experiment", "all_experiments", "REGISTRY"]
