"""What the importer asks the catalog before deciding: the same answers whether the
instances are looked up one series at a time or all in one query."""

import pytest

from circus_nb.store import series as series_sql
from tests.conftest import snapshot
from tests.dicom.bad_files import changed_copy


@pytest.fixture(params=["by series", "in one query"])
def lookups(request, monkeypatch):
    """How many series are looked up one at a time: all of them, or none."""
    monkeypatch.setattr(series_sql, "SERIES_AT_A_TIME", 100 if request.param == "by series"
                        else 0)
    return request.param


def test_importing_again_finds_every_stored_instance(lookups, imported, samples, tmp_path):
    before = snapshot(imported)
    assert set(imported.import_dicom(samples[0], progress=False).files["status"]) == {
        "already_present"}
    assert snapshot(imported) == before
    sample = samples[1]["chest_ct_lung"]
    other = changed_copy(sample.folder / "IM00007.dcm", tmp_path / "other.dcm", WindowCenter=9)
    assert imported.import_dicom(other, progress=False).files.iloc[0]["status"] == "conflict"


def test_catalogued_tells_stored_series_and_instances_only(lookups, imported, samples):
    uids = [s.series_uid for s in samples[1].values()]
    keys = [(uid, n) for uid in uids for n in (1, 2, 10**6)] + [("1.2.3.404", 1)]
    domains, stored = series_sql.catalogued(imported._db(), keys)
    assert domains == dict.fromkeys(uids, "default")
    expected = {(uid, n) for uid in uids for n in imported.series(uid).images if n in (1, 2)}
    assert set(stored) == expected
    path, managed, size, mtime = stored[next(iter(expected))]
    assert managed and path.startswith("data/") and size > 0 and mtime > 0


def test_managed_paths_are_those_an_instance_has(lookups, imported, samples):
    uid = samples[1]["abdomen_ct"].series_uid
    held = [series_sql.managed_path(uid, n) for n in imported.series(uid).images]
    asked = [*held, series_sql.managed_path(uid, 10**6), "data/1.2.3.404/00000001.dcm",
             "data/elsewhere.dcm", "tmp/x/y.dcm"]
    assert series_sql.managed_paths(imported._db(), asked) == set(held)
    assert all((imported.data_dir.parent / p).is_file() for p in held)
