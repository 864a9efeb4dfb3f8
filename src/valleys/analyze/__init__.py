"""The practitioner's entry: a user's model, weights and data -> a measured, stored run.

- :func:`analyze` measures an ``nn.Module`` on data from Python and returns an
  :class:`AnalysisResult` (``to_frame``, ``to_dict``).
- :func:`run_stored` does the same from specs (factory, checkpoint, data file) and stores
  the run like an experiment's; ``valleys analyze`` is a thin layer over it.
- :func:`load_factory`, :func:`load_weights`, :func:`load_exported` build the model
  without unpickling anything.
"""

import sys

from .analysis import AnalysisResult, analyze
from .model import build_model, load_exported, load_factory, load_weights, read_state_dict
from .options import AnalysisOptions, GridSpec
from .stored import AnalyzeParams, prepare, run_stored

__all__ = ["analyze", "AnalysisResult", "AnalysisOptions", "GridSpec", "AnalyzeParams",
           "prepare", "run_stored", "build_model", "load_factory", "load_weights",
           "load_exported", "read_state_dict"]


class _CallableModule(type(sys)):
    """``valleys.analyze`` is this package and, called, the :func:`analyze` function."""

    def __call__(self, *args, **kwargs) -> AnalysisResult:
        return analyze(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
