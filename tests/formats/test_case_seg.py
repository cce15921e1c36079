"""Case.to_seg and back: a revision's labels out as DICOM SEG, in again, saved again."""

from __future__ import annotations

import dataclasses

import highdicom as hd
import numpy as np
import pytest

import circus_nb as cnb
from circus_nb.label_ops import label_masks
from circus_nb.sample import write_ct_series


@pytest.fixture
def ct(store, tmp_path):
    """``store`` (as admin) with an 8-slice CT imported, and a project."""
    sample = write_ct_series(tmp_path / "ct", n=8, size=32)
    store.import_dicom(tmp_path / "ct", progress=False)
    store.project_id = store.create_project("Lung").project_id
    store.uid = sample.series_uid
    return store


def _labelled(store, spec=(1, 8, 1)):
    case = store.create_case(store.project_id, [(store.uid, spec)])
    volume = case.volume()
    nodule = np.zeros(volume.shape, bool)
    nodule[0, 0, :] = True  # the first slice, along an edge
    nodule[3:5, 10:20, 28:] = True  # up to the last column
    second = np.zeros(volume.shape, bool)
    second[-1, 5:9, 5:9] = True  # the last slice
    labels = [cnb.Label.voxel(nodule, name="nodule", color="#00ff00"),
              cnb.Label.cuboid([-30, -30, 139], [0, 10, 146], name="box"),
              cnb.Label.voxel(second, name="nodule")]  # the same name: one segment
    entry = dataclasses.replace(case.latest.series[0], labels=labels)
    case.save("Labels.", series=[entry])
    return case, volume


@pytest.mark.parametrize("spec", [(1, 8, 1), (8, 1, -1), (2, 7, 1)])
def test_labels_go_out_and_come_back(ct, tmp_path, spec):
    case, volume = _labelled(ct, spec)
    path = case.to_seg(tmp_path / "labels.dcm")
    expected = label_masks(case.latest.series[0].labels, volume.shape, volume.affine)
    assert list(expected) == ["nodule", "box"] and expected["box"].any()

    seg = hd.seg.segread(path)
    assert [s.SegmentLabel for s in seg.SegmentSequence] == ["nodule", "box"]
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == ct.uid
    frames = {item.ReferencedSOPInstanceUID
              for item in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence}
    assert len(frames) == len(volume.instance_numbers)  # the range's images, no others

    labels = cnb.Label.from_seg(path, case.volume())
    assert [label.name for label in labels] == ["nodule", "box"]
    assert all((label.mask() == expected[label.name]).all() for label in labels)

    entry = dataclasses.replace(case.latest.series[0], labels=labels)
    saved = case.save("Labels read back from the SEG.", series=[entry])
    stored = case.revision(saved.index).series[0].labels
    assert [label.name for label in stored] == ["nodule", "box"]
    assert all((label.mask() == expected[label.name]).all() for label in stored)


def test_an_older_revision_and_another_entry(ct, tmp_path):
    case, _ = _labelled(ct)
    with pytest.raises(cnb.ValidationError, match="Series entry 0 of revision 0 of case .* has"
                                                  " no labels, so there is no SEG to write"):
        case.to_seg(tmp_path / "first.dcm", revision=0)
    with pytest.raises(cnb.NotFoundError, match="Revision 1 has series entries 0 to 0, not 1"):
        case.to_seg(tmp_path / "second.dcm", entry=1)
    with pytest.raises(cnb.ValidationError, match="entry"):
        case.to_seg(tmp_path / "second.dcm", entry=-1)
    assert not list(tmp_path.glob("*.dcm"))


def test_an_existing_path_is_refused(ct, tmp_path):
    case, _ = _labelled(ct)
    target = tmp_path / "labels.dcm"
    target.write_bytes(b"mine")
    with pytest.raises(cnb.ValidationError, match="labels.dcm exists; a SEG is never written"
                                                  " over a file"):
        case.to_seg(target)
    assert target.read_bytes() == b"mine"


def test_to_seg_needs_read_and_download_volume(ct, tmp_path):
    case, _ = _labelled(ct)
    ct.add_group("readers", domains=["default"])
    ct.add_group("downloaders", privileges=["downloadVolume"])
    ct.add_group("strangers", privileges=["downloadVolume"])
    ct.grant("readers", ct.project_id, ["read"])
    ct.grant("downloaders", ct.project_id, ["read"])
    ct.add_user("reader@example.org", groups=["readers"])
    ct.add_user("downloader@example.org", groups=["downloaders"])
    ct.add_user("stranger@example.org", groups=["strangers"])
    with ct.as_user("reader@example.org") as reader, \
            pytest.raises(cnb.PermissionDenied, match="'downloadVolume'"):
        reader.case(case.case_id).to_seg(tmp_path / "reader.dcm")
    with ct.as_user("stranger@example.org") as stranger, \
            pytest.raises(cnb.PermissionDenied):
        cnb.Case(stranger, case.case_id, case.project_id).to_seg(tmp_path / "stranger.dcm")
    assert not list(tmp_path.glob("*.dcm"))
    with ct.as_user("downloader@example.org") as downloader:
        blank = hd.seg.segread(downloader.case(case.case_id).to_seg(tmp_path / "ok.dcm"))
    # the downloader does not see patient information: the SEG does not hold it either
    assert (blank.PatientName, blank.PatientID, blank.PatientBirthDate) == ("", "", "")
    ct.add_group("viewers", privileges=["downloadVolume", "personalInfoView"])
    ct.grant("viewers", ct.project_id, ["read", "viewPersonalInfo"])
    ct.add_user("viewer@example.org", groups=["viewers"])
    with ct.as_user("viewer@example.org") as viewer:
        viewer.set_preference("personal_info_view", True)
        full = hd.seg.segread(viewer.case(case.case_id).to_seg(tmp_path / "viewer.dcm"))
    assert full.PatientID == "BENCH-1" and str(full.PatientName) == "Sample^BENCH-1"
    assert blank.StudyInstanceUID == full.StudyInstanceUID
