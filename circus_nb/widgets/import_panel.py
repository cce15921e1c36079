"""``ImportPanel``: import DICOM files, folders and archives, and read the report.

Type a path (a file, a folder, a ``.zip`` or a ``.tar.gz``) or upload files
(``.dcm``, ``.zip``, ``.gz``), choose one of your domains and copy or reference
mode, and press Import. The panel shows how many files got each status and a
table of the files that were not imported, with the reason.

``run(paths, domain, mode)`` does an import from Python; ``import_from_form()``
is what the Import button does. The methods show an error in the panel's message
line *and* raise it; the button only shows it.
"""

from __future__ import annotations

import tempfile
from html import escape
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pandas as pd

from ..api.importing import STATUSES, ImportReport
from ..api.store import Store
from ..errors import CircusError, ValidationError
from ._common import Message, button

__all__ = ["UPLOAD_PREFIX", "ImportPanel", "write_uploads"]

ACCEPT = ".dcm,.zip,.gz"
UPLOAD_PREFIX = "upload:"  # how the report names an uploaded file
MAX_PROBLEM_ROWS = 200
_CELL = "style='text-align:left; padding:2px 8px'"


class ImportPanel(widgets.VBox):
    """Import DICOM into the store, into one of the current user's domains.

    >>> import tempfile, circus_nb as cnb
    >>> folder = tempfile.mkdtemp()
    >>> _ = cnb.sample.write_ct_series(folder, n=4, size=16)
    >>> store = cnb.Store.create(None)
    >>> panel = ImportPanel(store)
    >>> panel.run(folder, domain="default").counts["imported"]
    4
    >>> store.close()
    """

    def __init__(self, store: Store):
        self.store = store
        self.report: ImportReport | None = None
        self._build()
        super().__init__([self.path, self.upload_row, self._options_row, self._import_row,
                          self.message, self.counts_table, self.problems_table],
                         layout=widgets.Layout(padding="4px"))

    # -- the controls ------------------------------------------------------------------

    def _build(self) -> None:
        self.path = widgets.Text(description="Path", placeholder="a file, folder, .zip or"
                                 " .tar.gz on the server", layout=widgets.Layout(width="600px"))
        self.upload = widgets.FileUpload(accept=ACCEPT, multiple=True,
                                         description="Upload")
        self.upload_note = widgets.HTML("<i>Uploaded files are always copied.</i>")
        self.upload_row = widgets.HBox([self.upload, self.upload_note])
        domains = sorted(self.store.rights.domains)
        self.domain = widgets.Dropdown(description="Domain", options=domains,
                                       value="default" if "default" in domains
                                       else (domains[0] if domains else None))
        self.mode = widgets.ToggleButtons(options=["copy", "reference"], value="copy",
                                          description="Mode", tooltips=[
                                              "Copy the files into the store",
                                              "Record the files where they are"])
        self._options_row = widgets.HBox([self.domain, self.mode])
        self.import_button = button("Import", style="primary", tooltip="Import the files")
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="Files")
        self.progress_label = widgets.HTML()
        self._import_row = widgets.HBox([self.import_button, self.progress,
                                         self.progress_label])
        self.message = Message()
        self.counts_table = widgets.HTML()
        self.problems_table = widgets.HTML()
        self.import_button.on_click(lambda _: self._import_clicked())

    # -- the Python side -------------------------------------------------------------------

    def run(self, paths: Any, domain: str = "default", mode: str = "copy") -> ImportReport:
        """Import ``paths`` (as ``store.import_dicom`` takes them) and show the report.

        Raises (and shows) ``PermissionDenied`` for a domain the user lacks,
        ``NotFoundError`` for a missing path, ``ValidationError`` for a bad mode.
        """
        if paths is None:
            error = ValidationError("Give the paths to import: a file, a folder, a .zip or a"
                                    " .tar.gz, or a list of them.", field="paths")
            self.message.show_error(error)
            raise error
        return self._import(paths, domain, mode, uploads={})

    def import_from_form(self) -> ImportReport:
        """What the Import button does: the path and the uploaded files, into the chosen
        domain and mode (uploads are always copied); the upload is emptied once imported."""
        try:
            text = self.path.value.strip().strip('"').strip("'")
            if not text and not self.upload.value:
                raise ValidationError("Type a path or upload files to import.", field="path")
            if not self.domain.value:
                raise ValidationError("You have no domain to import into; ask an"
                                      " administrator for a group with a domain.",
                                      field="domain")
        except CircusError as e:
            self.message.show_error(e)
            raise
        with tempfile.TemporaryDirectory(prefix="circus-upload-") as folder:
            uploads = write_uploads(self.upload.value, Path(folder))
            report = self._import(text or None, self.domain.value, self.mode.value, uploads)
        self.upload.value = ()
        return report

    # -- keeping the view in step -----------------------------------------------------------

    def _import(self, paths: Any, domain: str, mode: str, uploads: dict[str, str]
                ) -> ImportReport:
        """Import ``paths`` (skipped when ``None``) in ``mode`` and the written uploads
        (copied: a reference to a temporary file would point nowhere), as one report."""
        self.progress.value, self.progress.bar_style = 0, ""
        self.progress_label.value = "importing..."
        try:
            reports = []
            if paths is not None:
                reports.append(self.store.import_dicom(paths, domain, mode, progress=False))
            if uploads:
                reports.append(self.store.import_dicom(list(uploads), domain, "copy",
                                                       progress=False))
        except CircusError as e:
            self.progress.bar_style = "danger"
            self.progress_label.value = ""
            self.message.show_error(e)
            raise
        report = reports[0] if len(reports) == 1 else _merge(reports)
        if uploads:
            report.files["path"] = [_upload_name(p, uploads) for p in report.files["path"]]
        self.report = report
        self._show(report)
        return report

    def _import_clicked(self) -> None:
        try:
            self.import_from_form()
        except CircusError:
            pass  # already in the message line
        except Exception as e:  # shown, never a traceback from a button
            self.message.show_error(e)

    def _show(self, report: ImportReport) -> None:
        total = len(report.files)
        problems = report.problems()
        self.progress.max = max(total, 1)
        self.progress.value = total
        self.progress.bar_style = "warning" if len(problems) else "success"
        self.progress_label.value = f"{total} files"
        counts = report.counts
        self.counts_table.value = _table(["Status", "Files"],
                                         [(status, str(counts[status])) for status in STATUSES])
        if problems.empty:
            self.problems_table.value = ""
        else:
            shown = problems.head(MAX_PROBLEM_ROWS)
            more = len(problems) - len(shown)
            self.problems_table.value = "<b>Problems</b>" + _table(
                ["Path", "Status", "Reason"],
                [(_text(r.path), _text(r.status), _text(r.reason)) for r in shown.itertuples()]
            ) + (f"<i>... and {more} more (see report.problems()).</i>" if more else "")
        done = ", ".join(f"{n} {status}" for status, n in counts.items() if n) or "no files"
        where = f" into domain {report.domain!r} ({len(report.series_uids)} series)"
        if problems.empty:
            self.message.show(f"{total} files{where}: {done}.", "ok")
        else:
            self.message.show(f"{total} files{where}: {done}. {len(problems)} not imported:"
                              " see the problems below.", "error")


def write_uploads(value: Any, folder: Path) -> dict[str, str]:
    """Write FileUpload entries (ipywidgets 8: dicts with ``name`` and ``content``) into
    ``folder``; returns ``{written path: uploaded name}``. Names keep their last part
    only, so an upload cannot write outside the folder."""
    written: dict[str, str] = {}
    for i, entry in enumerate(value or ()):
        name = Path(str(entry["name"]).replace("\\", "/")).name
        if name in ("", ".", ".."):
            name = f"upload-{i}"
        target = folder / f"{i:04d}-{name}"
        content = entry["content"]
        target.write_bytes(content.tobytes() if isinstance(content, memoryview)
                           else bytes(content))
        written[str(target)] = str(entry["name"])
    return written


def _merge(reports: list[ImportReport]) -> ImportReport:
    """One report of several imports into the same domain (the path's, then the uploads')."""
    files = pd.concat([r.files for r in reports], ignore_index=True)
    modes = "/".join(dict.fromkeys(r.mode for r in reports))
    return ImportReport(files, reports[0].domain, modes, sum(r.seconds for r in reports))


def _upload_name(path: str, uploads: dict[str, str]) -> str:
    for written, name in uploads.items():
        if path == written or path.startswith(written + "!"):
            return UPLOAD_PREFIX + name + path[len(written):]
    return path


def _text(value: Any) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _table(header: list[str], rows: list[tuple[str, ...]]) -> str:
    head = "".join(f"<th {_CELL}>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td {_CELL}>{escape(c)}</td>" for c in row) + "</tr>"
                   for row in rows)
    return (f"<table style='border-collapse:collapse; font-size:90%'><thead><tr>{head}</tr>"
            f"</thead><tbody>{body}</tbody></table>")

