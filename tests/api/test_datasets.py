"""Datasets: frozen cases, a fingerprint, a manifest that loads back to the same arrays."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

import circus_nb as cnb
from circus_nb.formats.nifti import ras_affine

LUNG = "chest_ct_lung"
RANGE = cnb.PartialVolume(11, 30, 1)  # 20 slices of the 60


def _entry(uid, labels=(), pv=RANGE):
    return cnb.SeriesEntry(uid, pv, tuple(labels))


def _cube(z, y, x, side=4, shape=(20, 64, 64)):
    mask = np.zeros(shape, bool)
    mask[z:z + side, y:y + side, x:x + side] = True
    return mask


@pytest.fixture
def train(cases):
    """Three cases tagged ``train`` (one ``done``), one untagged; each with a nodule."""
    store, uid = cases, cases.uids[LUNG]
    made = []
    for k in range(3):
        case = store.create_case(store.project_id, [(uid, (11, 30, 1))],
                                 tags=["nodule"] if k < 3 else [])
        case.save("painted", series=[_entry(uid, [cnb.Label.voxel(_cube(2 + k, 10, 10),
                                                                  name="nodule")])],
                  status="done" if k == 0 else None)
        made.append(case)
    store.create_case(store.project_id, [(uid, (11, 30, 1))])  # no tag: not in the dataset
    store.made = made
    return store


def _arrays(ds):
    return [(item["case_id"], item["revision"], item["image"].tobytes(),
             {name: mask.tobytes() for name, mask in item["labels"].items()})
            for item in ds]


def test_a_dataset_holds_the_matching_cases_at_their_latest_revision(train):
    ds = train.dataset(train.project_id, tags=["nodule"], progress=False)
    assert len(ds) == 3
    assert list(ds.cases["case_id"]) == [c.case_id for c in train.made]
    assert list(ds.cases.columns[:4]) == ["case_id", "revision", "series_uid", "partial_volume"]
    assert set(ds.cases["revision"]) == {1}
    item = ds[0]
    assert item["image"].dtype == np.float32 and item["image"].shape == (20, 64, 64)
    volume = train.made[0].volume(0)
    assert np.array_equal(item["image"], volume.array)
    assert np.array_equal(item["affine"], volume.affine)
    assert item["spacing"] == volume.spacing
    assert np.array_equal(item["labels"]["nodule"], _cube(2, 10, 10))
    assert ds[-1]["case_id"] == train.made[2].case_id
    assert ds.label_names == ["nodule"]
    assert len(train.dataset(train.project_id, status="done", progress=False)) == 1
    assert len(train.dataset(train.project_id, progress=False)) == 4


def test_the_dataset_reloads_to_the_same_arrays_whatever_was_saved_since(train, tmp_path):
    uid = train.uids[LUNG]
    ds = train.dataset(train.project_id, tags=["nodule"], progress=False)
    before = _arrays(ds)
    path = ds.save(tmp_path / "train.json")
    for case in train.made:  # later work: new labels, a new range, a new case
        case.save("repainted", series=[_entry(uid, [cnb.Label.voxel(_cube(0, 0, 0), "nodule")])])
    train.create_case(train.project_id, [uid], tags=["nodule"])
    assert train.dataset(train.project_id, tags=["nodule"], progress=False).fingerprint \
        != ds.fingerprint
    again = cnb.Dataset.load(train, path)
    assert again.fingerprint == ds.fingerprint and again.verify() is True
    assert _arrays(again) == before  # byte for byte
    assert json.loads(path.read_text())["fingerprint"] == ds.fingerprint


def test_a_progress_bar_changes_nothing_of_the_dataset(train, monkeypatch):
    import tqdm.auto

    class Redrawing(tqdm.auto.tqdm):  # as tqdm's notebook bar does: update says it redrew
        def update(self, n=1):
            super().update(n)
            return True

    monkeypatch.setattr("circus_nb.api.datasets.tqdm", Redrawing)
    shown = train.dataset(train.project_id, tags=["nodule"], progress=True)
    quiet = train.dataset(train.project_id, tags=["nodule"], progress=False)
    assert shown.fingerprint == quiet.fingerprint


def test_a_frozen_case_refuses_what_is_not_a_hash_per_image():
    from circus_nb.domain.dataset import FrozenCase

    entry = _entry("1.2.3", pv=cnb.PartialVolume(1, 2, 1))
    good = "0" * 64
    FrozenCase("c", 0, entry, ((1, good), (2, good)))
    for images in [((1, good), (2, True)), ((1, good),), ((2, good), (1, good)),
                   ((1, good), (2, "0" * 63)), ((True, good), (2, good)),
                   ((1.0, good), (2, good))]:  # equal to a good list, yet not one
        with pytest.raises(cnb.ValidationError, match="sha256 hex"):
            FrozenCase("c", 0, entry, images)
    shared = ((1, good), (2, good))  # checked once, accepted each time
    assert FrozenCase("c", 0, entry, shared).images is FrozenCase("d", 1, entry, shared).images


def test_as_of_freezes_each_case_at_the_revision_it_had_then(train):
    then = datetime.now(UTC)
    uid = train.uids[LUNG]
    now = train.dataset(train.project_id, tags=["nodule"], progress=False)
    train.made[0].save("later", series=[_entry(uid, [cnb.Label.voxel(_cube(9, 9, 9), "nodule")])])
    train.create_case(train.project_id, [uid], tags=["nodule"])
    past = train.dataset(train.project_id, tags=["nodule"], as_of=then, progress=False)
    assert past.fingerprint == now.fingerprint
    assert list(past.cases["revision"]) == [1, 1, 1]
    assert len(train.dataset(train.project_id, as_of="2000-01-01", progress=False)) == 0


def test_geometric_labels_are_rasterised_on_the_volume(train):
    case = train.made[0]
    volume = case.volume(0)
    centre = volume.affine @ [5, 20, 30, 1]
    point = cnb.Label.point(centre[:3].tolist(), name="apex")
    case.save("point", series=[_entry(train.uids[LUNG], [point])])
    item = train.dataset(train.project_id, tags=["nodule"], progress=False)[0]
    assert np.argwhere(item["labels"]["apex"]).tolist() == [[5, 20, 30]]


def test_verify_names_a_reference_file_edited_in_place(store, samples, tmp_path):
    by_key = samples[1]
    ref = tmp_path / "ref"
    shutil.copytree(by_key[LUNG].folder, ref)  # a private copy: editing it spares the samples
    store.import_dicom(ref, mode="reference", progress=False)
    uid = by_key[LUNG].series_uid
    project = store.create_project("Ref")
    case = store.create_case(project.project_id, [(uid, (11, 30, 1))])
    ds = store.dataset(project.project_id, progress=False)
    assert ds.verify() is True
    paths = store.series(uid).instances().set_index("instance_number")["path"]
    target = paths.loc[20]
    stat = os.stat(target)
    data = bytearray(Path(target).read_bytes())
    data[-1] ^= 0xFF  # one pixel byte: the same size...
    Path(target).write_bytes(bytes(data))
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # ...and the same mtime
    assert ds[0]["image"].shape == (20, 64, 64)  # the cheap check cannot see it
    with pytest.raises(cnb.CircusError, match="image 20 of series") as error:
        ds.verify()
    assert "other content" in str(error.value) and case.case_id in str(error.value)
    os.remove(paths.loc[12])
    with pytest.raises(cnb.CircusError, match=r"\(2 problem\(s\)\)") as error:
        ds.verify()
    assert "it is missing" in str(error.value)


def test_a_manifest_that_was_edited_or_lost_its_cases_does_not_load(train, tmp_path):
    ds = train.dataset(train.project_id, tags=["nodule"], progress=False)
    path = ds.save(tmp_path)  # a folder: dataset-<fingerprint>.json in it
    assert path.name == f"dataset-{ds.fingerprint[:12]}.json"
    document = json.loads(path.read_text())
    document["cases"][0]["revision"] = 0
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(document))
    with pytest.raises(cnb.CircusError, match="was edited after it was saved"):
        cnb.Dataset.load(train, edited)
    (tmp_path / "nonsense.json").write_text("[1, 2]")
    with pytest.raises(cnb.CircusError, match="not a circus_nb dataset manifest"):
        cnb.Dataset.load(train, tmp_path / "nonsense.json")
    with pytest.raises(cnb.NotFoundError, match="No dataset manifest"):
        cnb.Dataset.load(train, tmp_path / "absent.json")
    with pytest.raises(cnb.ValidationError, match="never overwritten"):
        ds.save(path)
    train.delete_case(train.made[1].case_id)
    with pytest.raises(cnb.CircusError, match="1 case.* no longer exist"):
        cnb.Dataset.load(train, path)
    with pytest.raises(cnb.CircusError, match="no longer exists"):
        ds.verify()


def test_bad_arguments_are_refused_with_the_rule(train):
    pid = train.project_id
    with pytest.raises(cnb.ValidationError, match="entry"):
        train.dataset(pid, entry=-1)
    with pytest.raises(cnb.ValidationError, match="as_of"):
        train.dataset(pid, as_of="the day before")
    with pytest.raises(cnb.ValidationError):
        train.dataset(pid, tags="nodule\n")
    with pytest.raises(cnb.NotFoundError):
        train.dataset("no-such-project")
    ds = train.dataset(pid, progress=False)
    with pytest.raises(cnb.ValidationError, match="integer"):
        ds["0"]
    with pytest.raises(IndexError, match="i is from -4 to 3; got 4"):
        ds[len(ds)]
    with pytest.raises(cnb.NotFoundError):
        ds[-5]
    with pytest.raises(cnb.ValidationError, match="the store to read the cases from"):
        cnb.Dataset.load("store", "x.json")
    with pytest.warns(cnb.CircusWarning, match="no series entry 1"):
        assert len(train.dataset(pid, entry=1, progress=False)) == 0


def test_a_user_without_read_gets_permission_denied(train):
    with train.as_user("nobody@example.org"), pytest.raises(cnb.PermissionDenied):
        train.dataset(train.project_id)
    with train.as_user("reader@example.org"):
        assert len(train.dataset(train.project_id, progress=False)) == 4


def test_to_nifti_writes_images_label_maps_and_a_monai_datalist(train, tmp_path):
    nibabel = pytest.importorskip("nibabel")
    ds = train.dataset(train.project_id, tags=["nodule"], progress=False)
    written = ds.to_nifti(tmp_path / "nifti", progress=False)
    assert len(written) == 3 and all(set(w) == {"image", "label"} for w in written)
    datalist = json.loads((tmp_path / "nifti" / "datalist.json").read_text())
    assert datalist["labels"] == {"0": "background", "1": "nodule"}
    assert datalist["numTraining"] == 3 and datalist["fingerprint"] == ds.fingerprint
    assert datalist["training"][0]["image"] == f"./imagesTr/{train.made[0].case_id}.nii.gz"
    item = ds[0]
    image = nibabel.load(written[0]["image"])
    assert np.array_equal(np.asarray(image.dataobj).transpose(2, 1, 0), item["image"])
    assert np.allclose(image.affine, ras_affine(item["affine"]))
    assert image.header.get_qform(coded=True)[1] == 1
    label = np.asarray(nibabel.load(written[0]["label"]).dataobj).transpose(2, 1, 0)
    assert np.array_equal(label == 1, item["labels"]["nodule"]) and label.max() == 1
    # a patient point (LPS) is the same voxel in our array and in the NIfTI (RAS)
    lps = item["affine"] @ [3, 12, 40, 1]
    ras = np.array([-lps[0], -lps[1], lps[2], 1.0])
    i, j, k = np.round(np.linalg.inv(image.affine) @ ras)[:3].astype(int)
    assert (k, j, i) == (3, 12, 40)
    with pytest.raises(cnb.ValidationError, match="not an empty folder"):
        ds.to_nifti(tmp_path / "nifti", progress=False)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]  # nothing half-done


KILLED_WRITER = """
import sys, time
import circus_nb as cnb
from circus_nb.api import dataset_files

def slow(*args):
    time.sleep(0.5)
    return write(*args)

write, dataset_files.write_nifti = dataset_files.write_nifti, slow
store = cnb.Store.open(sys.argv[1], user="admin@example.org")
store.dataset(sys.argv[2], progress=False).to_nifti(sys.argv[3], progress=False)
"""


def test_to_nifti_killed_midway_leaves_nothing_the_next_one_keeps(samples, tmp_path):
    with cnb.Store.create(tmp_path / "store") as store:
        store.import_dicom(samples[1][LUNG].folder, progress=False)
        project = store.create_project("Kill")
        for _ in range(3):
            store.create_case(project.project_id, [samples[1][LUNG].series_uid])
    target = tmp_path / "nifti"
    child = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(tmp_path / "store"),
                              project.project_id, str(target)])
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".nifti.*.part/imagesTr/*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert list(tmp_path.glob(".nifti.*.part")) and not target.exists()  # killed midway
    with cnb.Store.open(tmp_path / "store", user="admin@example.org") as store:
        written = store.dataset(project.project_id, progress=False).to_nifti(target,
                                                                             progress=False)
    assert len(written) == 3 and not list(tmp_path.glob(".nifti.*.part"))


def test_to_nifti_needs_download_volume(train, tmp_path):
    ds = train.dataset(train.project_id, progress=False)
    with train.as_user("reader@example.org"), \
            pytest.raises(cnb.PermissionDenied, match="downloadVolume"):
        ds.to_nifti(tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_torch_dataset_gives_tensors(train):
    torch = pytest.importorskip("torch")
    tensors = train.dataset(train.project_id, tags=["nodule"], progress=False).torch()
    assert isinstance(tensors, torch.utils.data.Dataset) and len(tensors) == 3
    item = tensors[0]
    assert item["image"].shape == (1, 20, 64, 64) and item["image"].dtype == torch.float32
    assert item["label"].shape == (1, 20, 64, 64) and int(item["label"].sum()) == 64
    batch = next(iter(torch.utils.data.DataLoader(tensors, batch_size=2)))
    assert batch["image"].shape == (2, 1, 20, 64, 64) and len(batch["case_id"]) == 2


def test_without_torch_the_package_says_how_to_install_it(train, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # an import of torch now fails
    monkeypatch.delitem(sys.modules, "circus_nb.api.torch_dataset", raising=False)
    ds = train.dataset(train.project_id, progress=False)
    with pytest.raises(cnb.CircusError, match=r"pip install 'circus-nb\[torch\]'"):
        ds.torch()
    assert len(ds[0]["labels"]) == 1  # everything else works


def test_reprs_are_short(train):
    ds = train.dataset(train.project_id, tags=["nodule"], progress=False)
    assert repr(ds).startswith("<Dataset of 3 cases (project Lung, entry 0), fingerprint")
    assert ds.fingerprint in ds._repr_html_() and "nodule" in str(ds)


def test_overlapping_labels_warn_and_the_later_name_wins_in_a_label_map():
    from circus_nb.api.dataset_files import label_map

    a = np.array([[[True, True, False]]])
    b = np.array([[[False, True, True]]])
    with pytest.warns(cnb.CircusWarning, match="label 'b' overlaps an earlier label on 1 voxels"):
        assert label_map({"a": a, "b": b}, {"a": 1, "b": 2}, a.shape, "c1").tolist() \
            == [[[1, 2, 2]]]
