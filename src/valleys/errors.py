"""Exception and warning types of valleys.

Every mistake a user can make (an unknown experiment, a malformed data file, a
parameter vector of the wrong length, ...) raises a subclass of
:class:`ValleysError` whose message says what is wrong and how to fix it. The
command line prints such a message on one line and exits with status 2.
"""

from __future__ import annotations


class ValleysError(Exception):
    """Base class of every user-facing error raised by valleys."""


class InvalidParameterError(ValleysError, ValueError, TypeError):
    """A function argument or an experiment parameter has a wrong value or type."""


class ShapeError(ValleysError, ValueError):
    """An array or parameter vector has the wrong shape or length."""


class ModelError(ValleysError, ValueError):
    """A model cannot be turned into a deterministic landscape."""


class NonFiniteError(ValleysError, FloatingPointError):
    """A loss, gradient or data array holds NaN or Inf."""


class UnsafeModelError(ValleysError, ValueError):
    """A model file holds something that loading it would execute (pickled objects, code)."""


class DenseTooLargeError(ValleysError, MemoryError):
    """A dense matrix was asked for at a size where a matrix-free method is needed."""


class DataError(ValleysError, ValueError):
    """A data set or data file is missing, malformed or inconsistent."""


class UnknownExperimentError(ValleysError, KeyError):
    """No experiment of the given name is registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class RunStoreError(ValleysError, OSError):
    """The run store cannot be read or written."""


class ValleysWarning(UserWarning):
    """Base class of numerical warnings raised by valleys."""


class NonConvergenceWarning(ValleysWarning):
    """An iterative method stopped before meeting its tolerance."""


class AmbiguousRankWarning(ValleysWarning):
    """A numerical rank was decided across a spectral gap smaller than required."""
