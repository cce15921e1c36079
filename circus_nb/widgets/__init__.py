"""ipywidgets forms over the Python API; every button is also a plain method.

>>> from circus_nb.widgets import NewCaseForm, SeriesBrowser
"""

from .case_browser import CaseBrowser
from .case_editor import CaseEditor
from .case_viewer import CaseViewer
from .import_panel import ImportPanel
from .new_case import NewCaseForm
from .range_editor import RangeEditor
from .series_browser import SeriesBrowser

__all__ = ["CaseBrowser", "CaseEditor", "CaseViewer", "ImportPanel", "NewCaseForm",
           "RangeEditor", "SeriesBrowser"]
