"""ipywidgets forms over the Python API; every button is also a plain method.

>>> from circus_nb.widgets import RangeEditor, NewCaseForm  # doctest: +SKIP
"""

from .new_case import NewCaseForm
from .range_editor import RangeEditor

__all__ = ["NewCaseForm", "RangeEditor"]
