"""Every user-facing object has a short repr and an HTML repr showing the same facts."""

import re

import pytest

import circus_nb as cnb


def _text_of(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


def test_image_range():
    r = cnb.ImageRange.parse("1-50,52")
    assert repr(r) == "ImageRange('1-50,52')"
    assert "1-50,52" in r._repr_html_() and "51" in _text_of(r._repr_html_())


def test_partial_volume():
    pv = cnb.PartialVolume(1, 11, 2)
    assert repr(pv) == "PartialVolume(start=1, end=11, delta=2)"
    html = pv._repr_html_()
    assert "1, 3, 5, ..., 11 (6 images)" in html


def test_project_text_and_html_show_the_same_rows(store):
    p = store.create_project("Lung <b>", "desc & more", tags=["nodule"])
    assert repr(p) == f"<Project 'Lung <b>' id={p.project_id} tags=1>"
    html, text = p._repr_html_(), str(p)
    assert "&lt;b&gt;" in html and "<b>Lung" not in html  # escaped
    for label in ("project_id", "description", "tags", "case attributes", "window presets",
                  "window priority"):
        assert label in html and label in text
    assert "desc &amp; more" in html and "desc & more" in text


def test_store(store):
    assert re.fullmatch(r"<Store '.+' user=admin@example.org read-write>", repr(store))
    html, text = store._repr_html_(), str(store)
    for label in ("path", "user", "mode", "projects", "series"):
        assert label in html and label in text
    store.close()
    assert "closed" in repr(store) and "closed" in store._repr_html_()


@pytest.mark.parametrize("obj", [cnb.ImageRange([]), cnb.PartialVolume(5, 5)])
def test_reprs_are_one_line(obj):
    assert "\n" not in repr(obj)
