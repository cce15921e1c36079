"""SliceView: what it sends the browser, and when (the browser keeps what it was sent)."""

import numpy as np

from circus_nb.widgets.slice_view import AXES, Slice, SliceView


def _view(depth=10):
    volume = np.arange(depth * 4 * 4, dtype=np.float32).reshape(depth, 4, 4)
    view = SliceView(lambda axis, index: Slice(np.take(volume, index, AXES.index(axis))))
    sent = []
    view.send = lambda content, buffers: sent.append((content, buffers))
    view.show("axial", 0, depth)
    return view, sent


def _indices(sent):
    return [(m["axis"], m["index"], m["version"]) for m, _ in sent]


def test_the_slice_shown_and_its_neighbours_go_once():
    view, sent = _view()
    assert _indices(sent) == [("axial", i, 0) for i in (0, 1, 2, 3)]
    content, buffers = sent[0]
    assert content["pixels"] == "int16" and content["codes"] is None and len(buffers) == 1
    sent.clear()
    view.index = 1  # in the cache: only what is now three ahead goes
    assert _indices(sent) == [("axial", 4, 0)]
    sent.clear()
    view.index = 9  # a jump: the slice, and one behind (nothing lies ahead)
    assert _indices(sent) == [("axial", 9, 0), ("axial", 8, 0)]
    sent.clear()
    view.index = 5  # moving down: 4, 3 and 2 below were sent already; 6 above was not
    assert _indices(sent) == [("axial", 5, 0), ("axial", 6, 0)]


def test_a_refresh_makes_everything_sent_before_stale():
    view, sent = _view()
    sent.clear()
    view.refresh()
    assert _indices(sent) == [("axial", i, 1) for i in (0, 1, 2, 3)]


def test_the_kernel_forgets_what_the_browser_evicts():
    view, sent = _view(depth=60)
    view.cache_size = 5
    for index in range(1, 30):
        view.index = index
    assert len(view.sent) == 5 and ("axial", 0) not in view.sent
    sent.clear()
    view.index = 0  # evicted: sent again
    assert ("axial", 0, 0) in _indices(sent)


def test_a_new_view_gets_the_slice_again():
    view, sent = _view()
    sent.clear()
    view._on_message(view, {"type": "ready"}, [])
    assert [i for _, i, _ in _indices(sent)] == [0, 1, 2, 3]
