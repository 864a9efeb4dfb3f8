"""Safran–Shamir basins of two-layer ReLU nets: partition, exact values, initialisation Monte Carlo."""

from .assumptions import AssumptionReport, data_assumptions
from .check import MinimalObjective, minimal_objective, projected_descent
from .criteria import FullRankCriterion, SingletonCriterion
from .montecarlo import BasinQuality, clopper_pearson, draw_init, initial_basin_quality
from .partition import BasinPattern, PatternError, basin_of
from .value import BasinSolver, BasinTolerances, BasinValue, basin_value, basin_values

__all__ = [
    # partition
    "BasinPattern", "PatternError", "basin_of",
    # exact values
    "BasinSolver", "BasinTolerances", "BasinValue", "basin_value", "basin_values",
    # sign criteria and the initialisation Monte Carlo
    "SingletonCriterion", "FullRankCriterion", "BasinQuality", "initial_basin_quality",
    "clopper_pearson", "draw_init",
    # independent checks, alpha, data assumptions
    "projected_descent", "minimal_objective", "MinimalObjective", "data_assumptions", "AssumptionReport",
]
