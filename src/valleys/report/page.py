"""What a run's report page shows, as plain data (the report never reads run files).

:class:`RunPage` lives with the run store that builds it (:mod:`valleys.runs.pages`); it is
re-exported here.
"""

from ..runs.pages import RunPage

__all__ = ["RunPage"]
