"""``ImportPanel``: import DICOM files, folders and archives, and read the report.

Type a path (a file, a folder, a ``.zip`` or a ``.tar.gz``) or upload files
(``.dcm``, ``.zip``, ``.gz``), choose one of your domains and copy or reference
mode, and press Import. The progress bar moves as files are read; then the panel
shows how many files got each status, how many series the import touched (series
that received files or already held them), and a table of the files that were not
imported, with the reason. Files that are simply not DICOM (a readme next to the
images) are listed as skipped; they do not make the import a failure.

The per-file progress needs ``store.import_dicom(..., progress=callable)``: the
panel passes a callable ``(done, total)``.

``run(paths, domain, mode)`` does an import from Python; ``import_from_form()``
is what the Import button does. The methods show an error in the panel's message
line *and* raise it; the button only shows it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pandas as pd

from ..api.importing import STATUSES, ImportReport
from ..api.store import Store
from ..errors import CircusError, ValidationError
from ._common import Message, button, labelled, run_and_show, table_html

__all__ = ["UPLOAD_PREFIX", "ImportPanel", "write_uploads"]

ACCEPT = ".dcm,.zip,.gz"
UPLOAD_PREFIX = "upload:"  # how the report names an uploaded file
MAX_PROBLEM_ROWS = 200
#: Statuses of ordinary files found next to DICOM ones: skipped, not a failure.
SKIPPED = ("not_dicom",)
PRESENT = ("imported", "already_present")  # the file's image is in the store
PROGRESS_STEPS = 100  # at most this many bar updates per import: one message each


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
        self._step = -1  # the last progress step shown (see show_progress)
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
        # a ToggleButtons' own description sits above its buttons in a row: label it
        self.mode = widgets.ToggleButtons(options=["copy", "reference"], value="copy",
                                          tooltips=["Copy the files into the store",
                                                    "Record the files where they are"],
                                          style={"button_width": "90px"})
        self._options_row = widgets.HBox([self.domain, labelled("Mode", self.mode, "50px")],
                                         layout=widgets.Layout(align_items="center"))
        self.import_button = button("Import", style="primary", tooltip="Import the files")
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="Files")
        self.progress_label = widgets.HTML()
        self._import_row = widgets.HBox([self.import_button, self.progress,
                                         self.progress_label],
                                        layout=widgets.Layout(align_items="center"))
        self.message = Message()
        self.counts_table = widgets.HTML()
        self.problems_table = widgets.HTML()
        self.import_button.on_click(lambda _: run_and_show(self.message,
                                                           self.import_from_form))

    # -- the Python side -------------------------------------------------------------------

    def run(self, paths: Any, domain: str = "default", mode: str = "copy") -> ImportReport:
        """Import ``paths`` (as ``store.import_dicom`` takes them) and show the report.

        Raises (and shows) ``PermissionDenied`` for a domain the user lacks,
        ``NotFoundError`` for a missing path, ``ValidationError`` for a bad mode.
        """
        with self.message.reporting():
            if paths is None:
                raise ValidationError("Give the paths to import: a file, a folder, a .zip or"
                                      " a .tar.gz, or a list of them.", field="paths")
        return self._import(paths, domain, mode, uploads={})

    def import_from_form(self) -> ImportReport:
        """What the Import button does: the path and the uploaded files, into the chosen
        domain and mode (uploads are always copied); the upload is emptied once imported."""
        with self.message.reporting():
            text = self.path.value.strip().strip('"').strip("'")
            if not text and not self.upload.value:
                raise ValidationError("Type a path or upload files to import.", field="path")
            if not self.domain.value:
                raise ValidationError("You have no domain to import into; ask an"
                                      " administrator for a group with a domain.",
                                      field="domain")
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
        self.progress.value, self.progress.max, self.progress.bar_style = 0, 1, ""
        self._step = -1
        self.progress_label.value = "reading the folders and archives..."
        try:
            reports = []
            if paths is not None:
                reports.append(self.store.import_dicom(paths, domain, mode,
                                                       progress=self.show_progress))
            if uploads:
                reports.append(self.store.import_dicom(list(uploads), domain, "copy",
                                                       progress=self.show_progress))
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

    def show_progress(self, done: int, total: int) -> None:
        """Move the bar to ``done`` of ``total`` files (``import_dicom`` calls it as it
        reads files). The bar changes at most ``PROGRESS_STEPS`` times per import: each
        change is a message to the browser."""
        total = max(int(total), 1)
        done = min(max(int(done), 0), total)
        step = done * PROGRESS_STEPS // total
        if total != self.progress.max or done in (0, total) or step != self._step:
            self._step = step
            self.progress.max, self.progress.value = total, done
            self.progress_label.value = f"{done} / {total} files"

    def _show(self, report: ImportReport) -> None:
        files = report.files
        total = len(files)
        problems = report.problems()
        failed = problems[~problems["status"].isin(SKIPPED)]
        self.progress.max = max(total, 1)
        self.progress.value = total
        self.progress.bar_style = "warning" if len(failed) else "success"
        self.progress_label.value = f"{total} files"
        counts = report.counts
        self.counts_table.value = table_html(["Status", "Files"],
                                             [(status, counts[status]) for status in STATUSES])
        self.problems_table.value = _problems_html(failed, problems[problems["status"].isin(
            SKIPPED)])
        self.message.show(*_summary(report, failed))


def _summary(report: ImportReport, failed: pd.DataFrame) -> tuple[str, str]:
    """The message line after an import, and its kind."""
    files, counts = report.files, report.counts
    total = len(files)
    series = files.loc[files["status"].isin(PRESENT), "series_uid"].dropna().nunique()
    done = ", ".join(f"{n} {status}" for status, n in counts.items() if n) or "no files"
    text = f"{total} files into domain {report.domain!r} ({series} series): {done}."
    if len(failed):
        return (f"{text} {len(failed)} not imported: see the problems below.", "error")
    skipped = sum(counts[status] for status in SKIPPED)
    if skipped and not series:
        return (f"{text} None of them is DICOM: check the path.", "warning")
    if skipped:
        return (f"{text} {skipped} file(s) that are not DICOM were skipped.", "ok")
    return text, "ok"


def _problems_html(failed: pd.DataFrame, skipped: pd.DataFrame) -> str:
    """The files not imported: the problems first, then the skipped (not DICOM) files."""
    html = ""
    for title, rows in (("Problems", failed), ("Skipped (not DICOM)", skipped)):
        if rows.empty:
            continue
        shown = rows.head(MAX_PROBLEM_ROWS)
        more = len(rows) - len(shown)
        html += f"<b>{title}</b>" + table_html(
            ["Path", "Status", "Reason"], shown[["path", "status", "reason"]].itertuples(
                index=False)) + (
            f"<i>... and {more} more (see report.problems()).</i>" if more else "")
    return html


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


