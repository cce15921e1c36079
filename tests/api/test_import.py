"""store.import_dicom: statuses, idempotence, copy/reference, archives, refusals."""

import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

import circus_nb as cnb
from circus_nb.api.importing import STATUSES
from tests.conftest import snapshot
from tests.dicom.bad_files import changed_copy


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_every_sample_file_is_imported_with_its_series_fields(imported, samples):
    by_key = samples[1]
    frame = imported.search_series(limit=200)
    assert len(frame) == len(by_key)
    for sample in by_key.values():
        series = imported.series(sample.series_uid)
        assert str(series.images) == sample.images
        assert series.modality == sample.modality
        assert series.description == sample.description
        assert series.study_uid == sample.study_uid
        assert series.domain == "default"
        assert series.parameters["TransferSyntaxUID"] == "1.2.840.10008.1.2.1"
        assert isinstance(series.parameters["PixelSpacing"], list)
    imported.set_preference("personal_info_view", True)
    jane = imported.series(by_key["chest_ct_lung"].series_uid).patient
    assert jane["patient_name"] == "Doe^Jane" and jane["age"] == 53 and jane["sex"] == "F"
    assert jane["birth_date"] == "1970-05-14"
    jurgen = imported.series(by_key["abdomen_ct"].series_uid).patient
    assert jurgen["patient_name"] == "Müller^Jürgen"
    assert jurgen["age"] == 65  # no PatientAge: from birth date 1958-11-02 and 2024-05-10


def test_series_date_falls_back_to_the_study_date(imported, samples):
    followup = imported.series(samples[1]["followup_ct"].series_uid)
    assert followup.series_date.date().isoformat() == "2024-09-20"
    assert followup.series_date.tzinfo is not None


def test_the_report_has_a_row_per_file_and_counts(store, samples):
    folder = samples[0]
    report = store.import_dicom(folder, progress=False)
    files = _files(folder)
    assert len(report.files) == len(files)
    assert list(report.files.columns) == ["path", "status", "reason", "series_uid",
                                          "instance_number"]
    assert set(report.files["path"]) == {str(p) for p in files}
    assert report.counts == {s: (len(files) if s == "imported" else 0) for s in STATUSES}
    assert len(report.series_uids) == len(samples[1])
    assert "imported" in repr(report) and "Import report" in report._repr_html_()


def test_copy_mode_stores_byte_identical_files_under_the_series_uid(imported, samples):
    sample = samples[1]["chest_ct_lung"]
    instances = imported.series(sample.series_uid).instances()
    assert list(instances["instance_number"]) == list(range(1, 61))
    for number, path, managed in instances[["instance_number", "path", "managed"]].itertuples(
            index=False):
        assert managed and path == f"data/{sample.series_uid}/{number:08d}.dcm"
        original = sample.folder / f"IM{number:05d}.dcm"
        assert (imported.data_dir.parent / path).read_bytes() == original.read_bytes()


def test_importing_again_changes_nothing(imported, samples):
    before = snapshot(imported)
    report = imported.import_dicom(samples[0], progress=False)
    assert set(report.files["status"]) == {"already_present"}
    assert snapshot(imported) == before


def test_reference_mode_records_files_in_place(store, samples):
    folder = samples[1]["chest_ct_feet_first"].folder
    report = store.import_dicom(folder, mode="reference", progress=False)
    assert report.counts["imported"] == 40
    instances = store.series(samples[1]["chest_ct_feet_first"].series_uid).instances()
    assert not instances["managed"].any()
    assert set(instances["path"]) == {str(p.resolve()) for p in _files(folder)}
    assert _files(store.data_dir) == []
    again = store.import_dicom(folder, mode="reference", progress=False)
    assert again.counts["already_present"] == 40
    assert store.import_dicom(folder, mode="copy", progress=False).counts[
        "already_present"] == 40  # the same bytes, wherever they are


def test_a_different_file_for_a_stored_instance_is_a_conflict_and_the_first_stays(
        imported, samples, tmp_path):
    sample = samples[1]["chest_ct_lung"]
    original = sample.folder / "IM00007.dcm"
    stored = imported.data_dir.parent / f"data/{sample.series_uid}/00000007.dcm"
    before = stored.read_bytes()
    other = changed_copy(original, tmp_path / "other.dcm", WindowCenter=99)
    report = imported.import_dicom(other, progress=False)
    row = report.files.iloc[0]
    assert row["status"] == "conflict" and row["instance_number"] == 7
    assert "another file holds this instance" in row["reason"] and "the first one is kept" in \
        row["reason"]
    assert stored.read_bytes() == before


def test_duplicates_within_one_import(store, samples, tmp_path):
    original = samples[1]["abdomen_ct"].folder / "IM00001.dcm"
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(original, folder / "a.dcm")
    shutil.copy(original, folder / "b.dcm")
    changed_copy(original, folder / "c.dcm", WindowWidth=1)
    report = store.import_dicom(folder, progress=False)
    assert list(report.files["status"]) == ["imported", "already_present", "conflict"]


def test_a_series_stays_in_the_domain_of_its_first_import(imported, samples):
    imported.add_group("b", domains=["hospital-b"])
    imported.set_user_groups("admin@example.org", ["admins", "b"])
    folder = samples[1]["abdomen_ct"].folder
    before = snapshot(imported)
    report = imported.import_dicom(folder, domain="hospital-b", progress=False)
    assert set(report.files["status"]) == {"conflict"}
    assert "belongs to domain 'default'" in report.files["reason"][0]
    assert "Import it with domain='default'" in report.files["reason"][0]
    assert snapshot(imported) == before


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")  # a bad UID on purpose
def test_bad_files_get_their_status_and_never_stop_the_others(store, samples, tmp_path):
    good = samples[1]["abdomen_ct"].folder / "IM00002.dcm"
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(good, folder / "0-good.dcm")
    (folder / "1-notes.txt").write_text("not an image")
    changed_copy(good, folder / "2-no-number.dcm", InstanceNumber=None)
    changed_copy(good, folder / "3-zero.dcm", InstanceNumber=0)
    changed_copy(good, folder / "4-bad-uid.dcm", SeriesInstanceUID="1.2.abc")
    (folder / "5-truncated.dcm").write_bytes(good.read_bytes()[:-1000])
    (folder / "6-garbage.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\xff" * 50)
    report = store.import_dicom(folder, progress=False)
    statuses = dict(zip(report.files["path"].map(lambda p: Path(p).name), report.files["status"],
                        strict=True))
    assert statuses == {
        "0-good.dcm": "imported",
        "1-notes.txt": "not_dicom",
        "2-no-number.dcm": "no_instance_number",
        "3-zero.dcm": "no_instance_number",
        "4-bad-uid.dcm": "invalid_uid",
        "5-truncated.dcm": "unreadable",
        "6-garbage.dcm": "unreadable",
    }
    reasons = dict(zip(report.files["path"].map(lambda p: Path(p).name), report.files["reason"],
                       strict=True))
    assert "The file is not a DICOM file." in reasons["1-notes.txt"]
    assert "Instance number not set" in reasons["2-no-number.dcm"]
    assert "InstanceNumber is '0'" in reasons["3-zero.dcm"]
    assert "'1.2.abc' is not a valid UID" in reasons["4-bad-uid.dcm"]
    assert "truncated" in reasons["5-truncated.dcm"]
    assert all(reasons[name] for name in reasons if name != "0-good.dcm")


def _zip(path: Path, entries: dict[str, bytes], links: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o120777 << 16)  # a symbolic link
            z.writestr(info, "../../etc/passwd")
    return path


def test_zip_with_folders_and_unsafe_entries(store, samples, tmp_path):
    folder = samples[1]["chest_ct_feet_first"].folder
    entries = {f"study/series/{p.name}": p.read_bytes() for p in _files(folder)}
    entries["../escape.dcm"] = b"x"
    entries["/absolute.dcm"] = b"x"
    archive = _zip(tmp_path / "upload.zip", entries, links=("study/link.dcm",))
    report = store.import_dicom(archive, mode="reference", progress=False)
    counts = report.counts
    assert counts["imported"] == 40 and counts["unreadable"] == 3
    unsafe = report.files[report.files["status"] == "unreadable"]
    assert any("'..' part" in r for r in unsafe["reason"])
    assert any("absolute path" in r for r in unsafe["reason"])
    assert any("is a link" in r for r in unsafe["reason"])
    assert not (tmp_path / "escape.dcm").exists() and not Path("/absolute.dcm").exists()
    # archive entries are always copied, even in reference mode
    instances = store.series(samples[1]["chest_ct_feet_first"].series_uid).instances()
    assert instances["managed"].all()
    assert report.files["path"].iloc[0].startswith(f"{archive}!/study/series/")
    tmp = store.data_dir.parent / "tmp"
    assert not tmp.exists() or not any(tmp.iterdir())


def test_tar_gz_archives(store, samples, tmp_path):
    folder = samples[1]["mr_interleaved"].folder
    archive = tmp_path / "mr.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="mr")
        link = tarfile.TarInfo("mr/link.dcm")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tar.addfile(link)
    report = store.import_dicom([archive], progress=False)
    assert report.counts["imported"] == 48
    assert report.counts["unreadable"] == 1
    assert store.series(samples[1]["mr_interleaved"].series_uid).images == \
        cnb.ImageRange.parse("1-48")


def test_a_corrupt_archive_is_reported(store, tmp_path):
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not really")
    report = store.import_dicom(tmp_path / "broken.zip", progress=False)
    assert list(report.files["status"]) == ["unreadable"]
    assert "cannot read the archive" in report.files["reason"][0]


def test_import_needs_the_domain_and_a_writable_store(populated, samples):
    before = snapshot(populated)
    with populated.as_user("reader@example.org"), pytest.raises(
            cnb.PermissionDenied, match="Importing DICOM needs the domain 'hospital-b'"):
        populated.import_dicom(samples[0], domain="hospital-b", progress=False)
    with pytest.raises(cnb.ValidationError, match="mode must be 'copy' or 'reference'"):
        populated.import_dicom(samples[0], mode="move", progress=False)
    with pytest.raises(cnb.NotFoundError, match="No file or folder"):
        populated.import_dicom(samples[0] / "missing", progress=False)
    assert snapshot(populated) == before
    populated.close()
    with cnb.Store.open(populated.path, user="admin@example.org", read_only=True) as ro, \
            pytest.raises(cnb.CircusError, match="open read-only"):
        ro.import_dicom(samples[0], progress=False)


def test_progress_bar_reports_files(store, samples, capsys):
    store.import_dicom(samples[1]["abdomen_ct"].folder, progress=True)
    assert "Importing DICOM" in capsys.readouterr().err
