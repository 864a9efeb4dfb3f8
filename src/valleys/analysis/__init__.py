"""The practitioner's entry: a user's model, weights and data -> a measured, stored run.

- :func:`analyze` measures an ``nn.Module`` on data from Python and returns an
  :class:`AnalysisResult` (``to_frame``, ``to_dict``); it is also ``valleys.analyze``.
- :func:`run_stored` does the same from specs (factory, checkpoint, data file) and stores
  the run like an experiment's; ``valleys analyze`` is a thin layer over it.
- :func:`load_factory`, :func:`load_weights`, :func:`load_exported` build the model
  without unpickling anything.
"""

from .analysis import AnalysisResult, analyze
from .model import build_model, load_exported, load_factory, load_weights, read_state_dict
from .options import AnalysisOptions, GridSpec
from .stored import AnalyzeParams, prepare, run_stored

__all__ = ["analyze", "AnalysisResult", "AnalysisOptions", "GridSpec", "AnalyzeParams",
           "prepare", "run_stored", "build_model", "load_factory", "load_weights",
           "load_exported", "read_state_dict"]
