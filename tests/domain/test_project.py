import pytest

from circus_nb import Project, ValidationError
from circus_nb.domain import Tag, WindowPreset
from circus_nb.domain.values import check_color, check_email, new_id


def test_tags_from_names_pairs_and_dicts():
    p = Project("p1", "  Lung  ", tags=["a", ("b", "#00ff00"), {"name": "c", "color": "#0000ff"}])
    assert p.name == "Lung"
    assert p.tag_names == ("a", "b", "c")
    assert p.tags[1] == Tag("b", "#00ff00")
    assert all(t.color.startswith("#") for t in p.tags)


@pytest.mark.parametrize("color", ["#FF0000", "red", "#ff00", "#ff00000", "ff0000", None])
def test_colors_must_be_lowercase_rrggbb(color):
    with pytest.raises(ValidationError, match=f"must be lowercase '#rrggbb', got {color!r}"):
        check_color(color)
    with pytest.raises(ValidationError, match="color of tag 'a'"):
        Tag("a", color)


def test_uppercase_color_gets_the_fix_in_the_message():
    with pytest.raises(ValidationError, match="Write it as '#ff0000'"):
        check_color("#FF0000")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": ""}, "project name must have 1 to 64 characters, got 0"),
        ({"name": "x" * 65}, "project name must have 1 to 64 characters, got 65"),
        ({"name": "ok", "description": "d" * 1025}, "project description must have 0 to 1024"),
        ({"name": "ok", "tags": ["t" * 33]}, "tag name must have 1 to 32 characters, got 33"),
        ({"name": "ok", "tags": ["a", "a"]}, "Tag names must be unique in a project, got ['a']"),
        ({"name": "ok", "tags": [{"name": "a", "colour": "#000000"}]}, "only 'name' and 'color'"),
        ({"name": "ok", "tags": [3]}, "A tag is a name, (name, color)"),
        ({"name": "ok", "window_presets": [("lung", -600, 0)]}, "width must be > 0, got 0"),
        ({"name": "ok", "window_presets": [("lung", "a", 10)]}, "level must be a finite number"),
        ({"name": "ok", "window_presets": [{"label": "x"}]}, "exactly 'label', 'level'"),
        ({"name": "ok", "case_attributes_schema": {"type": "array"}}, "Schema type"),
        ({"name": "ok", "label_attributes_schema": {"x": 1}}, "Schema x: is not a supported"),
    ],
)
def test_bad_projects_are_refused_on_construction(kwargs, message):
    with pytest.raises(ValidationError) as info:
        Project("p1", **kwargs)
    assert message in str(info.value)


def test_window_presets_coerce():
    p = Project("p", "n", window_presets=[("lung", -600, 1500), {"label": "bone", "level": 400,
                                                                   "width": 1800}])
    assert p.window_presets == (WindowPreset("lung", -600, 1500), WindowPreset("bone", 400, 1800))


@pytest.mark.parametrize("email", ["", "bob", "bob@", "@x.org", "a b@x.org", "bob@host", 5])
def test_emails(email):
    with pytest.raises(ValidationError, match="e-mail address"):
        check_email(email)
    assert check_email("bob@example.org") == "bob@example.org"


def test_ids_are_26_lowercase_crockford_chars_sorted_by_time():
    ids = [new_id() for _ in range(50)]
    assert len(set(ids)) == 50
    assert all(len(i) == 26 and set(i) <= set("0123456789abcdefghjkmnpqrstvwxyz") for i in ids)
    assert ids[0][:10] <= ids[-1][:10]  # the first 10 characters are the millisecond clock
