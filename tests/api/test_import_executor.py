"""store.import_dicom(executor=...): headers read on the caller's executor (threads, a
Dask cluster) give the report the built-in worker pool gives, on the same files."""

from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

import circus_nb as cnb
from circus_nb.dicom import parallel
from circus_nb.dicom.sample import write_ct_series
from tests.conftest import snapshot
from tests.dicom.test_parallel import _chunks, dies_on_poison

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Three series (300 files), a truncated file and one that is not DICOM."""
    root = tmp_path_factory.mktemp("executor")
    written = [write_ct_series(root / f"s{k}", n=n, size=16, seed=k, patient_id=f"EX-{k}",
                               description=f"Executor {k}") for k, n in enumerate((150, 90, 60))]
    good = sorted(written[0].folder.iterdir())[0]
    bad = root / "bad"
    bad.mkdir()
    (bad / "truncated.dcm").write_bytes(good.read_bytes()[:-100])
    (bad / "notes.txt").write_text("not an image")
    return root


@pytest.fixture(scope="module")
def dask_executor():
    """A Dask cluster of two worker processes; a worker that dies fails its task at once
    (the scheduler would otherwise try it on three workers first)."""
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        yield client.get_executor()


def _import(path, folder, executor=None):
    with cnb.Store.create(path) as store:
        return store.import_dicom(folder, progress=False, executor=executor)


def _rows(report: cnb.ImportReport) -> pd.DataFrame:
    return report.files.reset_index(drop=True)


@pytest.fixture(scope="module")
def built_in(folder, tmp_path_factory):
    """The report of the built-in worker pool, into a fresh store."""
    report = _import(tmp_path_factory.mktemp("built-in") / "store", folder)
    assert report.counts["imported"] == 300  # large enough for the workers to be used
    return report


@pytest.fixture(params=["threads", "dask"])
def executor(request):
    if request.param == "dask":
        return request.getfixturevalue("dask_executor")
    pool = ThreadPoolExecutor(4)
    request.addfinalizer(pool.shutdown)
    return pool


def test_an_executor_gives_the_report_of_the_built_in_pool(folder, built_in, executor, tmp_path,
                                                           monkeypatch):
    started = []
    monkeypatch.setattr(parallel, "start_workers", lambda: started.append(1))
    with cnb.Store.create(tmp_path / "store") as store:
        report = store.import_dicom(folder, progress=False, executor=executor)
        pd.testing.assert_frame_equal(_rows(report), _rows(built_in))
        assert report.counts == built_in.counts and report.series_uids == built_in.series_uids
        again = store.import_dicom(folder, progress=False, executor=executor)
    assert started == []  # the built-in pool was not started
    assert again.counts == {**{status: 0 for status in built_in.counts}, "already_present": 300,
                            "unreadable": 1, "not_dicom": 1}
    assert executor.submit(abs, -2).result() == 2  # left running


def test_a_truncated_file_is_reported_as_the_built_in_pool_reports_it(built_in, executor,
                                                                      folder, tmp_path):
    report = _import(tmp_path / "store", folder / "bad", executor)
    row = report.files.set_index("path").loc[str(folder / "bad" / "truncated.dcm")]
    expected = built_in.files.set_index("path").loc[str(folder / "bad" / "truncated.dcm")]
    assert (row["status"], row["reason"]) == (expected["status"], expected["reason"])
    assert row["status"] == "unreadable" and "truncated" in row["reason"]


def test_a_dask_worker_that_dies_costs_only_its_file(dask_executor):
    chunks = _chunks(3, size=10, poison=14)  # in the second chunk
    results = list(parallel.read_header_chunks(chunks, read=dies_on_poison,
                                               executor=dask_executor))
    flat = [h for chunk in results for h in chunk]
    assert [h.status for h in flat].count("unreadable") == 1
    assert flat[14].status == "unreadable"
    assert "reading its header failed in the executor's worker (KilledWorker" in flat[14].reason
    names = [h.reason.split(" read by ")[0] for h in flat if h.status == "ok"]
    assert names == [f"f{k}" for k in range(30) if k != 14]


def test_a_bad_executor_is_refused_and_nothing_is_written(store, folder):
    before = snapshot(store)
    with pytest.raises(cnb.ValidationError, match=r"executor must be a concurrent.futures"
                       r".Executor .* got 'pool' of type str\.$"):
        store.import_dicom(folder, progress=False, executor="pool")
    with pytest.raises(cnb.ValidationError, match="of type type"):
        store.import_dicom(folder, progress=False, executor=ThreadPoolExecutor)
    with pytest.raises(cnb.ValidationError, match="of type Client. A Dask client is not one"
                       " itself: pass client.get_executor()"):
        store.import_dicom(folder, progress=False, executor=type("Client", (), {
            "get_executor": lambda self: None})())
    pool = ThreadPoolExecutor(1)
    pool.shutdown()
    with pytest.raises(cnb.CircusError, match="The executor refused to read headers"):
        store.import_dicom(folder, progress=False, executor=pool)
    assert snapshot(store) == before
    tmp = store.data_dir.parent / "tmp"
    assert not tmp.exists() or not any(tmp.iterdir())
