"""Data for valleys: seeded synthetic generators, shipped sets, user files and a registry.

Every function returns a :class:`Dataset` (float64 ``X`` of shape ``(N, d)``, targets
``y``, a name, a task and metadata); ``Dataset.as_pair()`` gives the ``(X, y)`` that
:class:`valleys.Landscape` takes.
"""

from .clustered import clustered as clustered
from .dataset import Dataset as Dataset
from .files import load_file as load_file
from .gaussian import gaussian as gaussian
from .rank import full_rank as full_rank
from .rank import low_rank as low_rank
from .regions import two_class_regions as two_class_regions
from .registry import get_dataset as get_dataset
from .registry import list_datasets as list_datasets
from .rotated import rotate_image as rotate_image
from .rotated import rotated_digits as rotated_digits
from .shipped import digits as digits
from .shipped import mnist1d as mnist1d
from .singleton import auer_singleton as auer_singleton
from .singleton import singleton as singleton
from .teacher import teacher as teacher

__all__ = [
    # the record
    "Dataset",
    # synthetic generators
    "gaussian",
    "teacher",
    "low_rank",
    "full_rank",
    "clustered",
    "singleton",
    "auer_singleton",
    "two_class_regions",
    "rotated_digits",
    "rotate_image",
    # shipped sets
    "digits",
    "mnist1d",
    # user files
    "load_file",
    # registry
    "get_dataset",
    "list_datasets",
]
