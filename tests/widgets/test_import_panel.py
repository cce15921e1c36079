"""ImportPanel driven through its traits and methods: counts, problems, refusals, uploads."""

import datetime
import io
import shutil
import zipfile
from pathlib import Path

import pytest

import circus_nb as cnb
from circus_nb.widgets.import_panel import UPLOAD_PREFIX, ImportPanel


def _count_cell(panel, status):
    """The number the counts table shows for ``status``."""
    row = panel.counts_table.value.split(f">{status}</td>")[1]
    return int(row.split(">", 1)[1].split("<", 1)[0])


def _total(samples):
    return sum(1 for p in samples[0].rglob("*") if p.is_file())


def _upload(name, content):
    return {"name": name, "type": "application/octet-stream", "size": len(content),
            "content": memoryview(content),
            "last_modified": datetime.datetime(2024, 5, 1, tzinfo=datetime.UTC)}


def test_the_panel_offers_the_users_domains_and_modes(store):
    panel = ImportPanel(store)
    assert list(panel.domain.options) == ["default"] and panel.domain.value == "default"
    assert list(panel.mode.options) == ["copy", "reference"] and panel.mode.value == "copy"
    assert panel.upload.accept == ".dcm,.zip,.gz" and panel.report is None


def test_importing_the_sample_folder_shows_the_counts(store, samples):
    panel = ImportPanel(store)
    total = _total(samples)
    report = panel.run(samples[0])
    assert panel.report is report and report.counts["imported"] == total
    assert _count_cell(panel, "imported") == total and _count_cell(panel, "conflict") == 0
    assert panel.progress.value == panel.progress.max == total
    assert panel.progress.bar_style == "success"
    assert panel.problems_table.value == "" and panel.message.kind == "ok"
    assert f"({len(samples[1])} series)" in panel.message.text
    assert len(store.search_series()) == len(samples[1])


def test_the_import_button_uses_the_path_domain_and_mode(store, samples):
    panel = ImportPanel(store)
    folder = samples[1]["chest_ct_lung"].folder
    panel.path.value = str(folder)
    panel.mode.value = "reference"
    panel.import_button.click()
    assert panel.report.counts["imported"] == 60 and panel.report.mode == "reference"
    instances = store.series(samples[1]["chest_ct_lung"].series_uid).instances()
    assert not instances["managed"].any()


def test_a_readme_next_to_the_images_is_skipped_not_a_failure(store, samples, tmp_path):
    folder = tmp_path / "in"
    shutil.copytree(samples[1]["chest_ct_lung"].folder, folder)
    (folder / "a&b <notes>.txt").write_text("not a DICOM file")
    panel = ImportPanel(store)
    panel.path.value = str(folder)
    panel.import_button.click()
    assert panel.report.counts["imported"] == 60 and panel.report.counts["not_dicom"] == 1
    assert _count_cell(panel, "not_dicom") == 1
    listed = panel.problems_table.value
    assert listed.startswith("<b>Skipped (not DICOM)</b>") and "Problems" not in listed
    assert "a&amp;b &lt;notes&gt;.txt" in listed and ">not_dicom</td>" in listed
    assert "<notes>" not in listed
    assert panel.progress.bar_style == "success" and panel.message.kind == "ok"
    assert panel.message.text == ("61 files into domain 'default' (1 series): 60 imported,"
                                  " 1 not_dicom. 1 file(s) that are not DICOM were skipped.")


def test_a_folder_without_dicom_warns(store, tmp_path):
    (tmp_path / "readme.txt").write_text("hello")
    panel = ImportPanel(store)
    panel.run(tmp_path)
    assert panel.message.kind == "warning" and "None of them is DICOM" in panel.message.text
    assert "(0 series)" in panel.message.text


def test_a_file_that_cannot_be_imported_is_a_problem(store, samples, tmp_path):
    lung = sorted(samples[1]["chest_ct_lung"].folder.iterdir())
    archive = tmp_path / "in.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(lung[0], "ok.dcm")
        z.write(lung[1], "../outside.dcm")  # never imported: unreadable
        z.writestr("readme.txt", "notes")
    panel = ImportPanel(store)
    panel.run(archive)
    assert panel.report.counts["unreadable"] == 1
    assert panel.message.kind == "error" and "1 not imported: see the problems below." in (
        panel.message.text)
    assert panel.progress.bar_style == "warning"
    listed = panel.problems_table.value
    assert listed.startswith("<b>Problems</b>") and "Skipped (not DICOM)" in listed
    assert listed.index("outside.dcm") < listed.index("readme.txt")


def test_the_bar_moves_as_files_are_read(store, samples, monkeypatch):
    real = store.import_dicom
    seen = []

    def import_dicom(paths, domain="default", mode="copy", progress=True):
        """The api's hook: ``progress(done, total)`` as files are read."""
        assert callable(progress)
        for done in range(0, 61):
            progress(done, 60)
            seen.append((panel.progress.value, panel.progress.max,
                         panel.progress_label.value))
        return real(paths, domain, mode, progress=False)

    monkeypatch.setattr(store, "import_dicom", import_dicom)
    panel = ImportPanel(store)
    panel.run(samples[1]["chest_ct_lung"].folder)
    assert [value for value, _, _ in seen] == list(range(61))
    assert {maximum for _, maximum, _ in seen} == {60}
    assert seen[30][2] == "30 / 60 files"
    assert panel.progress.value == 60 and panel.progress.bar_style == "success"


def test_a_long_import_updates_the_bar_at_most_a_hundred_times(store):
    panel = ImportPanel(store)
    changes = []
    panel.progress.observe(lambda change: changes.append(change["new"]), "value")
    for done in range(0, 10_001):
        panel.show_progress(done, 10_000)
    assert changes[-1] == 10_000 and len(changes) <= 101
    assert panel.progress_label.value == "10000 / 10000 files"


def test_the_mode_label_sits_beside_its_buttons(store):
    panel = ImportPanel(store)
    label, toggles = panel._options_row.children[1].children
    assert label.value == "Mode" and toggles is panel.mode
    assert panel.mode.description == ""  # its own description would sit above the buttons
    assert panel._options_row.layout.align_items == "center"


def test_a_domain_the_user_lacks_is_refused_in_the_message(store, samples):
    panel = ImportPanel(store)
    with pytest.raises(cnb.PermissionDenied):  # the Python method raises...
        panel.run(samples[0], domain="hospital-b")
    assert panel.message.kind == "error"  # ...and shows it
    assert "needs the domain 'hospital-b'" in panel.message.text
    assert panel.progress.bar_style == "danger" and panel.report is None
    store.add_group("b", domains=["hospital-b"])
    store.add_user("b@example.org", groups=["b"])
    panel.path.value = str(samples[0])
    with store.as_user("b@example.org"):
        assert ImportPanel(store).domain.options == ("hospital-b",)
        panel.import_button.click()  # the button only shows it
    assert "needs the domain 'default'" in panel.message.text
    assert store.search_series().empty


def test_the_button_without_a_path_or_upload_says_so(store):
    panel = ImportPanel(store)
    panel.import_button.click()
    assert panel.message.kind == "error" and "Type a path or upload" in panel.message.text
    panel.path.value = "no/such/folder"
    panel.import_button.click()
    assert "No file or folder" in panel.message.text


def test_uploaded_files_are_written_and_imported(store, samples):
    lung = samples[1]["chest_ct_lung"]
    files = sorted(lung.folder.iterdir())
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        for path in files[2:]:
            z.write(path, f"series/{path.name}")
    panel = ImportPanel(store)
    panel.mode.value = "reference"  # uploads are copied all the same
    panel.upload.value = (_upload(files[0].name, files[0].read_bytes()),
                          _upload("../" + files[1].name, files[1].read_bytes()),
                          _upload("lung.zip", archive.getvalue()),
                          _upload("readme.dcm", b"hello"))
    panel.import_button.click()
    report = panel.report
    assert report.counts["imported"] == 60 and report.counts["not_dicom"] == 1
    assert all(p.startswith(UPLOAD_PREFIX) for p in report.files["path"])
    assert f"{UPLOAD_PREFIX}lung.zip!/series/{files[2].name}" in set(report.files["path"])
    assert "upload:readme.dcm" in panel.problems_table.value
    assert panel.upload.value == ()
    instances = store.series(lung.series_uid).instances()
    assert len(instances) == 60 and instances["managed"].all()


def test_importing_again_shows_already_present(store, samples):
    panel = ImportPanel(store)
    panel.run(samples[0])
    report = panel.run(samples[0])
    total = _total(samples)
    assert report.counts["already_present"] == total and report.counts["imported"] == 0
    assert _count_cell(panel, "already_present") == total
    assert _count_cell(panel, "imported") == 0
    assert panel.problems_table.value == "" and panel.message.kind == "ok"
    assert panel.message.text == (f"{total} files into domain 'default'"
                                  f" ({len(samples[1])} series): {total} already_present.")


def test_upload_names_stay_inside_the_folder(tmp_path):
    from circus_nb.widgets.import_panel import write_uploads

    written = write_uploads((_upload("../../evil.dcm", b"x"), _upload("..", b"y")), tmp_path)
    assert all(Path(p).parent == tmp_path for p in written)
    assert sorted(written.values()) == ["..", "../../evil.dcm"]
