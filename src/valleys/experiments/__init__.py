"""Experiments: one module per source document, each checkable claim one experiment."""

from .params import Params
from .registry import REGISTRY, Experiment, all_experiments, experiment, get_experiment
from .result import Check, Result, Verdict

__all__ = ["Params", "Result", "Verdict", "Check", "Experiment", "experiment",
           "get_experiment", "all_experiments", "REGISTRY"]
