"""What experiments and analyses produce, below both and below the run store.

- :class:`Params`: a run's frozen, validated parameters (``to_dict``/``from_dict``);
- :class:`Check`, :class:`Verdict`, :class:`Result`: a run's checks, verdict and outcome
  (frozen, with ``to_dict`` and ``to_frame``);
- :class:`Experiment` and the :class:`Runnable` protocol: what the run store runs;
- :func:`figure`, :func:`close_figures` and :mod:`.jsonio`: figures and JSON of a result.
"""

from .experiment import Experiment, Measurement, Parts, Runnable
from .figures import close_figures, figure
from .params import Params, field_types, parse_value
from .result import KINDS, OUTCOMES, STATUSES, Check, Result, Verdict, task_outcome

__all__ = ["Params", "field_types", "parse_value", "Check", "Verdict", "Result", "KINDS", "STATUSES", "OUTCOMES",
           "Experiment", "Measurement", "Parts", "Runnable", "figure", "close_figures", "task_outcome"]
