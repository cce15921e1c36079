"""circus_nb: curate medical-imaging cases from a notebook.

>>> import circus_nb as cnb
>>> cnb.PartialVolume(1, 9, 2).describe()
'1, 3, 5, ..., 9'
"""

from . import sample
from ._version import __version__
from .api import Store
from .api.cases import Case
from .api.collections import ItemList
from .api.datasets import Dataset
from .api.importing import ImportReport
from .api.series import Series
from .demo import demo_store
from .domain import ImageRange, PartialVolume, Project
from .domain.case import Revision, SeriesEntry
from .domain.labels import Label
from .domain.series import Volume
from .errors import (
    CircusError,
    CircusWarning,
    NotFoundError,
    PermissionDenied,
    RevisionConflict,
    ValidationError,
)

__all__ = [
    "Case",
    "CircusError",
    "CircusWarning",
    "Dataset",
    "ImageRange",
    "ImportReport",
    "ItemList",
    "Label",
    "NotFoundError",
    "PartialVolume",
    "PermissionDenied",
    "Project",
    "Revision",
    "RevisionConflict",
    "Series",
    "SeriesEntry",
    "Store",
    "ValidationError",
    "Volume",
    "__version__",
    "demo_store",
    "sample",
]
