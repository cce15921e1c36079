"""Pure domain values and rules: the standard library and numpy only.

Nothing here touches a database, a file or a screen, so every rule can be
tested, and property-tested, on its own.
"""

from .image_range import ImageRange
from .partial_volume import PartialVolume, describe_triple, triple_problem
from .privileges import GLOBAL_PRIVILEGES, PROJECT_ROLES, GroupGrant, Rights
from .project import Project, Tag, WindowPreset
from .schema import check_schema, validate_attributes
from .window import WINDOW_PRIORITIES, Window, auto_window, choose_window

__all__ = [
    "GLOBAL_PRIVILEGES",
    "PROJECT_ROLES",
    "WINDOW_PRIORITIES",
    "GroupGrant",
    "ImageRange",
    "PartialVolume",
    "Project",
    "Rights",
    "Tag",
    "Window",
    "WindowPreset",
    "auto_window",
    "check_schema",
    "choose_window",
    "describe_triple",
    "triple_problem",
    "validate_attributes",
]
