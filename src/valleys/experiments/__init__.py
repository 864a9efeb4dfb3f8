"""Experiments: one module per source document, each checkable claim one experiment."""

from ..record import Check, Experiment, Params, Result, Verdict
from .registry import REGISTRY, all_experiments, experiment, get_experiment

__all__ = ["Params", "Result", "Verdict", "Check", "Experiment", "experiment",
           "get_experiment", "all_experiments", "REGISTRY"]
