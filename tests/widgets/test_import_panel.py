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


def test_a_bad_file_shows_in_the_problems_table_escaped(store, samples, tmp_path):
    folder = tmp_path / "in"
    shutil.copytree(samples[1]["chest_ct_lung"].folder, folder)
    (folder / "a&b <notes>.txt").write_text("not a DICOM file")
    panel = ImportPanel(store)
    panel.path.value = str(folder)
    panel.import_button.click()
    assert panel.report.counts["imported"] == 60 and panel.report.counts["not_dicom"] == 1
    assert _count_cell(panel, "not_dicom") == 1
    problems = panel.problems_table.value
    assert "a&amp;b &lt;notes&gt;.txt" in problems and ">not_dicom</td>" in problems
    assert "<notes>" not in problems
    assert panel.progress.bar_style == "warning" and "1 not imported" in panel.message.text


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


def test_upload_names_stay_inside_the_folder(tmp_path):
    from circus_nb.widgets.import_panel import write_uploads

    written = write_uploads((_upload("../../evil.dcm", b"x"), _upload("..", b"y")), tmp_path)
    assert all(Path(p).parent == tmp_path for p in written)
    assert sorted(written.values()) == ["..", "../../evil.dcm"]
