"""case.compare_labels and store.label_agreement: Dice and volumes of two revisions' labels,
on both backends. The lung sample series here is 60 x 64 x 64 voxels of 2.5 x 5.625 x 5.625
mm, so a voxel is 79.1015625 mm³ (exact in binary) and 64 voxels are 5.0625 ml."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

import circus_nb as cnb
from circus_nb import label_ops
from circus_nb.api.series import Series

VOXEL_ML = 2.5 * 5.625 * 5.625 / 1000
A, B = "writer@example.org", "second@example.org"
COLUMNS = ["label", "dice", "volume_a_ml", "volume_b_ml", "voxels_a", "voxels_b"]


@pytest.fixture
def readers(cases):
    """``cases`` with a second user who may write: two readers, A and B."""
    cases.add_user(B, groups=["writers"])
    return cases


@pytest.fixture
def case(readers):
    return readers.create_case(readers.project_id, [readers.uids["chest_ct_lung"]])


def _box(box) -> np.ndarray:
    mask = np.zeros((60, 64, 64), bool)
    mask[box] = True
    return mask


def _save(store, case, *labels, user=None):
    """Save a revision whose first series entry holds ``labels`` (as ``user``); its index."""
    def save():
        first, *others = case.latest.series
        entry = dataclasses.replace(first, labels=labels)
        return case.save("labels", series=[entry, *others]).index
    if user is None:
        return save()
    with store.as_user(user):
        return save()


def _row(frame, label):
    rows = frame[frame["label"] == label]
    assert len(rows) == 1, frame
    return rows.iloc[0].to_dict()


# -- values ------------------------------------------------------------------------------------

def test_two_readers_overlapping_cubes_give_the_dice_counted_by_hand(readers, case):
    # A: 4 x 4 x 4 at z 10-13; B: shifted 2 in z and 2 in x, so 2 x 4 x 2 = 16 voxels shared
    first = _save(readers, case, cnb.Label.voxel(_box(np.s_[10:14, 20:24, 20:24]), "nodule"),
                  user=A)
    _save(readers, case, cnb.Label.voxel(_box(np.s_[12:16, 20:24, 22:26]), "nodule"), user=B)
    table = case.compare_labels(A, B)
    assert list(table.columns) == COLUMNS
    assert _row(table, "nodule") == {
        "label": "nodule", "dice": 2 * 16 / (64 + 64), "volume_a_ml": 64 * VOXEL_ML,
        "volume_b_ml": 64 * VOXEL_ML, "voxels_a": 64, "voxels_b": 64}
    assert _row(table, "nodule")["volume_a_ml"] == 5.0625
    pd.testing.assert_frame_equal(case.compare_labels(first, -1), table)  # by index
    pd.testing.assert_frame_equal(case.compare_labels(B, A)[["dice"]], table[["dice"]])


def test_a_reader_s_latest_revision_is_the_one_compared(readers, case):
    _save(readers, case, cnb.Label.voxel(_box(np.s_[0:1, 0:1, 0:2]), "n"), user=A)
    _save(readers, case, cnb.Label.voxel(_box(np.s_[0:1, 0:1, 0:1]), "n"), user=B)
    latest_a = _save(readers, case, cnb.Label.voxel(_box(np.s_[0:1, 0:1, 0:3]), "n"), user=A)
    case.save("Reviewed.", status="reviewed")  # the admin saves last: not a reader
    table = readers.label_agreement(case.case_id, A, B, progress=False)
    assert table[["revision_a", "revision_b", "voxels_a", "voxels_b"]].values.tolist() == [
        [latest_a, 2, 3, 1]]
    assert table["dice"].tolist() == [2 * 1 / (3 + 1)]


def test_a_cuboid_agrees_fully_with_its_rasterised_voxel_copy(readers, case):
    # voxel centres k 10-13, j 20-23, i 30-33 lie inside: x -8.4375..8.4375,
    # y -64.6875..-47.8125, z 117.5..125 (mm); a 1 mm margin takes no more
    cuboid = cnb.Label.cuboid([-9.4375, -65.6875, 116.5], [9.4375, -46.8125, 126.0], "box")
    volume = case.volume()
    copy = label_ops.rasterise(cuboid, volume.shape, volume.affine)
    assert np.argwhere(copy).min(axis=0).tolist() == [10, 20, 30]
    a = _save(readers, case, cuboid)
    b = _save(readers, case, cnb.Label.voxel(copy, "box"))
    assert _row(case.compare_labels(a, b), "box") == {
        "label": "box", "dice": 1.0, "volume_a_ml": 64 * VOXEL_ML, "volume_b_ml": 64 * VOXEL_ML,
        "voxels_a": 64, "voxels_b": 64}


def test_a_label_in_one_revision_only_has_dice_0_and_no_volume_in_the_other(readers, case):
    a = _save(readers, case, cnb.Label.voxel(_box(np.s_[5:7, 5:7, 5:7]), "only a"))
    b = _save(readers, case, cnb.Label.voxel(_box(np.s_[5:6, 5:6, 5:6]), "only b"))
    table = case.compare_labels(a, b)
    assert table["label"].tolist() == ["only a", "only b"]  # a's names first
    assert table[["dice", "volume_a_ml", "volume_b_ml", "voxels_a", "voxels_b"]].values.tolist() \
        == [[0.0, 8 * VOXEL_ML, 0.0, 8, 0], [0.0, 0.0, VOXEL_ML, 0, 1]]


def test_empty_masks_agree_and_no_labels_give_no_rows(readers, case):
    empty = cnb.Label.voxel(_box(np.s_[0:0]), "empty")
    a = _save(readers, case, empty)
    only_a = case.compare_labels(0, a)
    assert only_a.to_dict("records") == [{"label": "empty", "dice": 1.0, "volume_a_ml": 0.0,
                                          "volume_b_ml": 0.0, "voxels_a": 0, "voxels_b": 0}]
    none = case.compare_labels(0, 0)
    assert list(none.columns) == COLUMNS and len(none) == 0
    assert none.dtypes.astype(str).tolist() == ["object", "float64", "float64", "float64",
                                                "int64", "int64"]


def test_labels_of_one_name_are_one_mask_and_unnamed_ones_go_by_position(readers, case):
    a = _save(readers, case, cnb.Label.voxel(_box(np.s_[0:1, 0:1, 0:1]), "n"),
              cnb.Label.voxel(_box(np.s_[9:10, 9:10, 9:10]), "n"),
              cnb.Label.voxel(_box(np.s_[3:4, 3:4, 3:5])))
    b = _save(readers, case, cnb.Label.voxel(_box(np.s_[0:1, 0:1, 0:1]), "n"))
    table = case.compare_labels(a, b)
    assert table[["label", "voxels_a", "voxels_b", "dice"]].values.tolist() == [
        ["n", 2, 1, 2 * 1 / 3], ["label2", 2, 0, 0.0]]


def test_no_pixels_are_read_for_a_range_of_many_images(readers, case, monkeypatch):
    a = _save(readers, case, cnb.Label.cuboid([-20, -20, 100], [20, 20, 120], "box"))

    def refuse(*args, **kwargs):
        raise AssertionError("the volume was read")
    monkeypatch.setattr(Series, "volume", refuse)
    assert case.compare_labels(a, a)["dice"].tolist() == [1.0]


@pytest.mark.parametrize("key", ["chest_ct_localizer", "chest_ct_feet_first", "chest_ct_lung",
                                 "mr_interleaved", "abdomen_ct"])
def test_the_grid_is_exactly_that_of_the_volume(readers, key):
    series = readers.series(readers.uids[key])
    pv = series.resolve_auto()
    specs = [pv]
    if len(pv) > 8:  # reversed; every other image
        specs += [cnb.PartialVolume(pv.end, pv.start, -pv.delta),
                  cnb.PartialVolume(pv.start, pv.start + 8 * pv.delta, 2 * pv.delta)]
    for spec in specs:
        shape, spacing, affine = series._grid(spec)
        volume = series.volume(spec)
        assert (shape, spacing) == (volume.shape, volume.spacing)
        np.testing.assert_array_equal(affine, volume.affine)


# -- many cases --------------------------------------------------------------------------------

def test_label_agreement_has_a_row_per_case_and_label(readers, case):
    other = readers.create_case(readers.project_id, [readers.uids["chest_ct_lung"]])
    for c, shift in ((case, 0), (other, 1)):
        _save(readers, c, cnb.Label.voxel(_box(np.s_[0:2, 0:2, 0:2]), "n"), user=A)
        _save(readers, c, cnb.Label.voxel(_box(np.s_[shift:2, 0:2, 0:2]), "n"), user=B)
    seen = []
    table = readers.label_agreement([case.case_id, other.case_id], A, B,
                                    progress=lambda done, total: seen.append((done, total)))
    assert list(table.columns) == ["case_id", "revision_a", "revision_b", *COLUMNS]
    assert table[["case_id", "revision_a", "revision_b", "label", "dice"]].values.tolist() == [
        [case.case_id, 1, 2, "n", 1.0], [other.case_id, 1, 2, "n", 2 * 4 / (8 + 4)]]
    assert seen == [(1, 2), (2, 2)]
    assert readers.label_agreement(case.case_id, 0, 0, progress=False).empty


def test_cases_lacking_a_reader_are_refused_together_unless_skipped(readers, case):
    other = readers.create_case(readers.project_id, [readers.uids["chest_ct_lung"]])
    third = readers.create_case(readers.project_id, [readers.uids["chest_ct_lung"]])
    for c in (case, other, third):
        _save(readers, c, cnb.Label.voxel(_box(np.s_[0:2, 0:2, 0:2]), "n"), user=A)
    _save(readers, case, cnb.Label.voxel(_box(np.s_[0:2, 0:2, 0:2]), "n"), user=B)
    ids = [case.case_id, other.case_id, third.case_id]
    with pytest.raises(cnb.NotFoundError, match=(
            f"2 of the 3 cases have no revision saved by '{B}' \\(b\\): {other.case_id},"
            f" {third.case_id}. Leave them out of case_ids, or pass missing='skip'")) as caught:
        readers.label_agreement(ids, A, B, progress=False)
    assert caught.value.value == [other.case_id, third.case_id]
    skipped = readers.label_agreement(ids, A, B, missing="skip", progress=False)
    assert skipped["case_id"].tolist() == [case.case_id]
    with pytest.raises(cnb.NotFoundError, match="2 of the 3 cases have no revision 2 \\(a\\)"):
        readers.label_agreement(ids, 2, 0, progress=False)


def test_label_agreement_checks_each_case(readers, case):
    with pytest.raises(cnb.ValidationError, match="case_ids must be a case id or a non-empty"):
        readers.label_agreement([], 0, 0)
    with pytest.raises(cnb.NotFoundError, match="No case 'no-such-case'"):
        readers.label_agreement([case.case_id, "no-such-case"], 0, 0, progress=False)
    with readers.as_user("nobody@example.org"), pytest.raises(cnb.PermissionDenied):
        readers.label_agreement(case.case_id, 0, 0, progress=False)
    with pytest.raises(cnb.ValidationError, match="missing must be 'raise' .* or 'skip' .*,"
                                                  " got 'ignore'"):
        readers.label_agreement(case.case_id, 0, 0, missing="ignore")
    with pytest.raises(cnb.ValidationError, match="progress must be True .* got 'yes'"):
        readers.label_agreement(case.case_id, 0, 0, progress="yes")


# -- refusals ----------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [True, 1.0, "1", None, [0], 2**31, -2**31, "writer"])
def test_a_bad_revision_selector_is_refused_with_the_rule(case, bad):
    with pytest.raises(cnb.ValidationError, match="a selects a revision: an integer index \\(0"
                                                  " the first, -1 the latest\\) or the e-mail"):
        case.compare_labels(bad, 0)
    with pytest.raises(cnb.ValidationError, match="b selects a revision"):
        case.compare_labels(0, bad)


@pytest.mark.parametrize("bad", [True, -1, 1.0, "0", 2**40])
def test_a_bad_entry_is_refused(case, bad):
    with pytest.raises(cnb.ValidationError, match="entry must be an integer from 0 to"):
        case.compare_labels(0, 0, entry=bad)


def test_missing_revisions_and_entries_are_not_found(readers, case):
    with pytest.raises(cnb.NotFoundError, match=f"Case {case.case_id} has no revision 5; it has"
                                                " 0 to 0 \\(or -1 to -1 from the latest\\)"):
        case.compare_labels(0, 5)
    with pytest.raises(cnb.NotFoundError, match=f"Case {case.case_id} has no revision -2"):
        case.compare_labels(-2, 0)
    with pytest.raises(cnb.NotFoundError, match=(
            f"Case {case.case_id} has no revision saved by '{B}'; its revisions were saved by"
            " admin@example.org. Give one of them, or a revision index.")):
        case.compare_labels(0, B)
    with pytest.raises(cnb.NotFoundError, match="no revision saved by 'ghost@example.org'"):
        case.compare_labels("ghost@example.org", 0)
    with pytest.raises(cnb.NotFoundError, match="Revision 0 of case .* has series entries 0 to"
                                                " 0, not 1; choose entry= one of them"):
        case.compare_labels(0, 0, entry=1)
    assert case.compare_labels(np.int64(0), np.int32(-1), entry=np.int8(0)).empty


def test_entries_of_another_series_or_range_are_refused(readers, case):
    lung, feet = readers.uids["chest_ct_lung"], readers.uids["chest_ct_feet_first"]
    shorter = case.save("shorter", series=[(lung, (1, 30, 1))]).index
    with pytest.raises(cnb.ValidationError, match=(
            f"Series entry 0 of revisions 0 and {shorter} of case {case.case_id} differ"
            f" \\(series {lung} over 1, 2, ..., 60 and over 1, 2, ..., 30\\): labels"
            " are compared only on the same images")):
        case.compare_labels(0, shorter)
    other = case.save("other", series=[feet, (lung, (1, 30, 1))]).index
    with pytest.raises(cnb.ValidationError, match=f"\\(series {lung} and series {feet}\\)"):
        case.compare_labels(shorter, other)
    assert case.compare_labels(other, -1, entry=1).empty
