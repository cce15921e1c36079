"""Fixtures of the widget tests."""

import pytest

from tests.conftest import as_user


@pytest.fixture
def writer(cases):
    """``cases`` acting as its user with the role write (the widgets' usual user)."""
    with as_user(cases, "writer"):
        yield cases
