"""Layers: the label model behind the viewer (overlaps, brushes, undo of list changes)."""

import numpy as np
import pytest

import circus_nb as cnb
from circus_nb.widgets.layers import Layers, stroke_voxels
from circus_nb.widgets.slice_view import _compact


def test_overlapping_labels_keep_each_colour_and_blend_where_they_meet():
    layers = Layers([], (1, 4, 4), np.eye(4))
    layers.add_voxel("red", "#ff0000")
    layers.paint(0, [(1, 1)], 0)
    layers.paint(0, [(1, 2)], 0)
    layers.add_voxel("blue", "#0000ff")
    layers[1].alpha = 0.5
    layers.paint(0, [(1, 2)], 0)
    layers.paint(0, [(2, 2)], 0)
    rgba = layers.overlay(0, 0).rgba()
    assert rgba[1, 1].tolist() == [255, 0, 0, 255]
    assert rgba[2, 2].tolist() == [0, 0, 255, 128]
    assert rgba[1, 2].tolist() == [128, 0, 128, 255]  # half blue over red
    assert rgba[0, 0, 3] == 0
    layers[0].visible = False
    assert layers.overlay(0, 0).rgba()[1, 1, 3] == 0
    layers[1].visible = False
    assert layers.overlay(0, 0) is None


def test_many_label_combinations_use_wider_codes():
    layers = Layers([], (1, 40, 40), np.eye(4))
    for j in range(9):  # 2**9 combinations possible; make more than 255 distinct ones
        layers.add_voxel(f"l{j}")
        for v in range(512):
            if v >> j & 1:
                layers.items[j].mask[0, v // 40 % 40, v % 40] = True
    overlay = layers.overlay(0, 0)
    assert overlay.codes.dtype == np.uint16 and len(overlay.colors) == 512


def test_a_brush_stroke_is_a_line_of_disks():
    rows, cols = stroke_voxels([(5, 0), (5, 10)], 1, 20, 20)
    painted = set(zip(rows.tolist(), cols.tolist(), strict=True))
    assert {(5, c) for c in range(11)} <= painted and (4, 5) in painted and (6, 5) in painted
    assert (3, 5) not in painted and (5, 12) not in painted
    rows, cols = stroke_voxels([(0, 0)], 3, 20, 20)  # clipped at the edges
    assert rows.min() == 0 and cols.min() == 0 and len(rows) == 11


def test_deleting_an_opened_label_is_a_change_and_undo_takes_it_back():
    label = cnb.Label.voxel(np.ones((2, 3, 3), bool), "opened")
    layers = Layers([label], (2, 3, 3), np.eye(4))
    assert not layers.dirty and layers.labels()[0] is not label
    layers.delete(0)
    assert layers.dirty and len(layers) == 0 and layers.selected is None
    layers.undo()
    assert not layers.dirty and layers.labels()[0] == label
    with pytest.raises(cnb.CircusError, match="shaped"):
        Layers([label], (3, 3, 3), np.eye(4))


def test_pixels_go_as_int16_only_when_nothing_is_lost():
    assert _compact(np.array([[1.0, -1024.0]], np.float32)).dtype == np.int16
    for values in ([[0.5, 1]], [[40000.0, 0]], [[np.nan, 0]]):
        compact = _compact(np.array(values, np.float32))
        assert compact.dtype == np.float32
        np.testing.assert_array_equal(compact, np.array(values, np.float32))
