"""Facet counts as small bar charts in HTML: one column per facet, one bar per value.

People would rather look than read: the bars are scaled to the largest count of
their facet, tags are drawn in their project colour, and every label is escaped.

>>> import pandas as pd
>>> frame = pd.DataFrame({"facet": ["status", "status", "tag"], "value": ["draft", "done", "a"],
...                       "label": ["draft", "done", "<a>"], "count": [3, 1, 2]})
>>> html = facets_html(frame, {"<a>": "#ff0000"})
>>> html.count("cnb-facet-bar"), "&lt;a&gt;" in html, "width:33%" in html
(3, True, True)
>>> facets_html(frame.iloc[:0], {})
''
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

import pandas as pd

__all__ = ["FACET_TITLES", "facets_html"]

FACET_TITLES = {"project": "Project", "status": "Status", "modality": "Modality", "tag": "Tag"}
MAX_BARS = 8  # per facet; the rest are summed up in one line
_BAR = "#4a7ebb"


def _bar(label: str, count: int, largest: int, color: str) -> str:
    width = max(1, round(100 * count / largest))
    return (f'<div title="{escape(label)}: {count}" style="display:flex; align-items:center;'
            ' gap:4px; margin:1px 0">'
            f'<span style="width:110px; overflow:hidden; text-overflow:ellipsis;'
            f' white-space:nowrap">{escape(label)}</span>'
            f'<span style="flex:1; background:var(--jp-layout-color2, #eee); height:10px">'
            f'<span class="cnb-facet-bar" style="display:block; height:10px; width:{width}%;'
            f' background:{color}"></span></span>'
            f'<span style="width:44px; text-align:right">{count:,}</span></div>')


def _facet(title: str, rows: pd.DataFrame, colors: Mapping[str, str]) -> str:
    largest = int(rows["count"].max())
    shown = rows.head(MAX_BARS)
    bars = "".join(_bar("(none)" if pd.isna(label) else str(label), int(count), largest,
                        colors.get(label, _BAR))
                   for label, count in zip(shown["label"], shown["count"], strict=True))
    rest = rows.iloc[MAX_BARS:]
    more = (f'<div style="color:#777">and {len(rest)} more ({int(rest["count"].sum()):,})</div>'
            if len(rest) else "")
    return (f'<div style="min-width:200px; flex:1; max-width:280px">'
            f'<b>{escape(title)}</b>{bars}{more}</div>')


def facets_html(facets: pd.DataFrame, tag_colors: Mapping[str, str]) -> str:
    """The facets (``facet, value, label, count`` rows) side by side; ``""`` for none."""
    if facets.empty:
        return ""
    columns = [_facet(FACET_TITLES.get(facet, facet), rows,
                      tag_colors if facet == "tag" else {})
               for facet, rows in facets.groupby("facet", sort=False)]
    return ('<div style="display:flex; gap:16px; flex-wrap:wrap; font-size:12px;'
            f' margin:4px 0">{"".join(columns)}</div>')
