"""Where the end-to-end screenshots go (no browser needed)."""

import tempfile
from pathlib import Path

from tests.e2e.conftest import DOCS_SCREENSHOTS, screenshot_folder


class FakeLocator:
    """What ``screenshot`` needs of a Playwright locator."""

    def screenshot(self, path: Path) -> None:
        Path(path).write_bytes(b"\x89PNG")


def test_screenshots_go_to_the_tests_own_folder(screenshot, tmp_path, monkeypatch):
    monkeypatch.delenv("CIRCUS_NB_SCREENSHOTS", raising=False)
    saved = screenshot(FakeLocator(), "form.png")
    assert saved.parent == tmp_path / "screenshots" and saved.read_bytes() == b"\x89PNG"
    shared = Path(tempfile.gettempdir())
    assert saved.parent.parent == tmp_path and saved.parent != shared / "circus-nb-screenshots"


def test_the_environment_variable_refreshes_the_docs_pictures(tmp_path):
    assert screenshot_folder(tmp_path, {"CIRCUS_NB_SCREENSHOTS": "1"}) == DOCS_SCREENSHOTS
    assert DOCS_SCREENSHOTS.parts[-2:] == ("docs", "screenshots")
    assert (DOCS_SCREENSHOTS / "new_case_form.png").is_file()  # the README's pictures
    assert screenshot_folder(tmp_path, {"CIRCUS_NB_SCREENSHOTS": "0"}) == tmp_path
    assert screenshot_folder(tmp_path, {}) == tmp_path
