"""Labels are checked in full before a save stores them: revisions are append-only, so a
bad label could never be repaired. Stored masks that are damaged read as CircusError."""

import dataclasses
import hashlib
import zlib

import numpy as np
import pytest

import circus_nb as cnb
from circus_nb.domain.labels import pack_mask
from tests.conftest import snapshot


@pytest.fixture
def case(cases):
    return cases.create_case(cases.project_id, [cases.uids["chest_ct_lung"]])


def _mask(case):
    mask = np.zeros(case.volume().array.shape, bool)
    mask[2:5, 10:20, 30:40] = True
    mask[3, 15, 35] = False  # a hole: the box is not all True
    return mask


def _with_labels(case, *labels):
    first, *others = case.latest.series
    return case.save("labels", series=[dataclasses.replace(first, labels=labels), *others])


def _voxel_with(label, packed, **data):
    return dataclasses.replace(label, data={**label.data, **data}, blob=packed)


STYLE = {"color": "#ff0000", "alpha": 1.0}
NOT_ZLIB = b"not zlib at all"
# (how to spoil a good voxel label of the case, the message)
BAD_LABELS = [
    (lambda good: cnb.Label("blob", dict(STYLE)), "Unknown label type 'blob'"),
    (lambda good: cnb.Label("point", {"location": [0, 0, 0], "color": "red", "alpha": 1}),
     "label color must be lowercase '#rrggbb', got 'red'"),
    (lambda good: cnb.Label("point", {"location": "head", **STYLE}),
     "point location must be 3 numbers, got 'head'"),
    (lambda good: cnb.Label.from_json({"type": "point", "data": {"location": [0, 0, 0],
                                                                  "alpha": 2}}),
     "alpha must be a number from 0 to 1"),
    (lambda good: cnb.Label("polyline", {"points": "abc", "z": 1, **STYLE}),
     "polyline points must be a list"),
    (lambda good: cnb.Label("point", {"location": [0, 0, 0], **STYLE}, name="a\nb"),
     "A label name is one line of text"),
    (lambda good: cnb.Label("point", {"location": [0, 0, 0], **STYLE}, attributes={1: True}),
     "has the key 1, but keys must be text"),
    (lambda good: dataclasses.replace(good, blob=pack_mask(np.ones((3, 10, 10), bool))),
     "its mask bytes do not match its blob hash"),
    (lambda good: cnb.Label.from_json(good.to_json()), "carries no mask bytes"),
    (lambda good: _voxel_with(good, good.blob, origin=[58, 10, 30]),
     r"box \(origin \[58, 10, 30\], size \[3, 10, 10\]\) reaches outside its shape"),
    (lambda good: _voxel_with(good, good.blob, size=[3, 10, 9]),
     r"the mask does not hold exactly 270 voxels"),
    (lambda good: _voxel_with(good, NOT_ZLIB, blob=hashlib.sha256(NOT_ZLIB).hexdigest()),
     "the mask bytes are not zlib data"),
    (lambda good: _voxel_with(good, good.blob + zlib.compress(b"more"),
                              blob=hashlib.sha256(good.blob + zlib.compress(b"more"))
                              .hexdigest()),
     "go on after their zlib data"),
    (lambda good: _voxel_with(good, good.blob, shape=[60, 64, "64"]),
     "shape must be 3 integers >= 1"),
    (lambda good: _voxel_with(good, good.blob, blob="abc"), "sha256 of its mask bytes"),
    (lambda good: dataclasses.replace(good, data={**good.data, "extra": 1}),
     "A voxel label's data has exactly shape, origin, size, blob, color, alpha"),
]


@pytest.mark.parametrize(("spoil", "message"), BAD_LABELS)
def test_a_bad_label_is_refused_however_it_was_built(cases, case, spoil, message):
    bad = spoil(cnb.Label.voxel(_mask(case), name="n"))
    before = snapshot(cases)
    with pytest.raises(cnb.ValidationError, match=message):
        _with_labels(case, bad)
    entry = cnb.SeriesEntry(cases.uids["chest_ct_lung"], cnb.PartialVolume(1, 60), (bad,))
    with pytest.raises(cnb.ValidationError, match=message):
        cases.create_case(cases.project_id, [entry])
    assert snapshot(cases) == before


def test_a_forged_blob_cannot_poison_a_later_correct_label(cases, case):
    good = cnb.Label.voxel(_mask(case), name="nodule")
    forged = dataclasses.replace(good, blob=pack_mask(np.ones(good.data["size"], bool)))
    with pytest.raises(cnb.ValidationError, match="do not match its blob hash"):
        _with_labels(case, forged)
    assert cases._db().execute("SELECT count(*) FROM blobs").fetchone() == (0,)
    _with_labels(case, good)
    stored = cases.case(case.case_id).latest.series[0].labels[0]
    np.testing.assert_array_equal(stored.mask(), _mask(case))


def test_labels_built_by_hand_are_stored_normalised(cases, case):
    point = cnb.Label("point", {"location": [1, 2, 3]})  # no style: the defaults of of()
    saved = _with_labels(case, point).series[0].labels[0]
    assert saved.data == {"location": [1.0, 2.0, 3.0], "color": "#ff0000", "alpha": 1.0}
    assert case.latest.series[0].labels[0] == saved


def test_a_damaged_stored_mask_reads_as_a_circus_error(cases, case, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    label = cnb.Label.voxel(_mask(case), name="n")
    _with_labels(case, label)
    # a catalog damaged on disk, or written by an older circus_nb that did not check
    cases._db().execute("UPDATE blobs SET data = ?", [b"garbage"])
    stored = cases.case(case.case_id).latest.series[0].labels[0]
    with pytest.raises(cnb.CircusError, match="is damaged in the catalog. Restore"):
        stored.mask()
    with pytest.raises(cnb.CircusError, match="is damaged in the catalog"):
        cases.export_cases(case.case_id, out / "case.zip")
    assert list(out.iterdir()) == []
    # A save carries the label as it is stored (by its hash, not read again): no new
    # damage, and every read of the mask still says what is wrong.
    carried = case.save("keeps the label").series[0].labels[0]
    with pytest.raises(cnb.CircusError, match="is damaged in the catalog"):
        carried.mask()
    fresh = cnb.Label.voxel(_mask(case) & False, name="other")
    with pytest.raises(cnb.CircusError, match="is damaged in the catalog"):  # a new label set
        _with_labels(case, dataclasses.replace(stored, name="renamed"), fresh)


def test_a_mask_whose_bytes_do_not_inflate_reads_as_a_circus_error():
    with pytest.raises(cnb.CircusError, match="cannot be read: the mask bytes are not zlib"):
        cnb.domain.labels.unpack_mask(b"garbage", [2, 2, 2])
    with pytest.raises(cnb.CircusError, match="does not hold exactly 9 voxels"):
        cnb.domain.labels.unpack_mask(pack_mask(np.ones(8, bool)), [1, 3, 3])


def test_a_mask_read_after_the_store_closed_is_a_circus_error(cases, case):
    _with_labels(case, cnb.Label.voxel(_mask(case), name="n"))
    stored = cases.case(case.case_id).latest.series[0].labels[0]
    cases.close()
    with pytest.raises(cnb.CircusError, match="is closed. Open it again with cnb.Store.open"):
        stored.mask()


def test_a_voxel_label_of_a_multi_frame_image_has_a_slice_per_frame(store):
    from tests.api.test_series import _import_one, _real

    series = _import_one(store, _real("eCT_Supplemental.dcm"))  # one image, two frames
    project = store.create_project("Frames")
    case = store.create_case(project.project_id, [series.series_uid])
    frames = np.zeros(case.volume().array.shape, bool)
    assert frames.shape == (2, 512, 512)
    frames[1, 100:110, 100:110] = True
    entry = dataclasses.replace(case.latest.series[0], labels=(cnb.Label.voxel(frames),))
    saved = case.save("outlined", series=[entry])
    assert (saved.series[0].labels[0].mask() == frames).all()
    one_slice = dataclasses.replace(entry, labels=(cnb.Label.voxel(frames[:1]),))
    with pytest.raises(cnb.ValidationError, match=r"shaped \(1, 512, 512\).*is \(2, 512, 512\)"):
        case.save("wrong shape", series=[one_slice])
