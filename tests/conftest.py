"""Shared fixtures: float64 everywhere and a temporary run store."""

import matplotlib
import pytest
import torch

matplotlib.use("Agg")
torch.set_default_dtype(torch.float64)

#: Helper modules of the tests, not test modules: ``--doctest-modules`` would import them while
#: collecting (``sweep_toys`` registers toy experiments, which must not join the registry
#: before ``test_experiments`` lists the real ones).
collect_ignore = ["sweep_toys.py", "judges.py"]


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    """A fresh run store directory, also exported as VALLEYS_RUNS."""
    path = tmp_path / "runs"
    monkeypatch.setenv("VALLEYS_RUNS", str(path))
    return path


# The test problems are small: one thread avoids oversubscribing the 2-core machines
# (torch's, and NumPy/SciPy's OpenBLAS, whose spinning threads slowed small L-BFGS runs 45x
# on a busy 2-core machine).
torch.set_num_threads(1)
from threadpoolctl import threadpool_limits  # noqa: E402

threadpool_limits(limits=1, user_api="blas")

# Wall-clock deadlines make property tests flaky on loaded CI machines; speed is measured in benchmarks/.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("valleys", deadline=None)
_hypothesis_settings.load_profile("valleys")
