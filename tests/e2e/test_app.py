"""``circus-nb app`` in headless Chromium: the widgets tour as Voila serves it.

The app runs as a shell user starts it (``circus-nb app --store ... --no-browser``), in a
process group of its own that is stopped however the test ends. The page must show
text and widgets only (no code, no "Error displaying widget", nothing fetched from
outside this machine), and a case made with the mouse must be in the store afterwards,
once, even when Create is double-clicked.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

import circus_nb as cnb
from circus_nb.demo import DEMO_PROJECT

from .lab import free_port, jupyter_environment

pytestmark = pytest.mark.e2e

USER = "alice@example.org"
APP_START_TIMEOUT = 90  # seconds: the app answers, not yet the notebook run for a page
PAGE_TIMEOUT = 120_000  # ms: a page runs the whole tour in a new kernel before it shows


@dataclass
class App:
    url: str
    log: Path
    started_in: float  # seconds from the command to the first answer


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the app's process group (circus-nb and Voila, which shuts its kernels
    down); SIGKILL what is left after 20 s. Returns once the group is gone."""
    group = process.pid  # start_new_session: the group is named after its leader
    for sig, patience in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            process.poll()  # reap the leader, or the group never empties
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


@contextmanager
def circus_nb_app(store: Path, home: Path) -> Iterator[App]:
    """``circus-nb app --store store --user alice --port <free> --no-browser``, its Jupyter
    folders in ``home``, until the block ends (it is stopped even when the block fails)."""
    home.mkdir(parents=True)
    port = free_port()
    command = [str(Path(sys.executable).parent / "circus-nb"), "app", "--store", str(store),
               "--user", USER, "--port", str(port), "--no-browser"]
    log = home / "app.log"
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=jupyter_environment(home), stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"circus-nb app exited ({process.returncode}):\n"
                                   + log.read_text()[-3000:])
            try:  # any answer will do (not the page itself: that would start a kernel)
                urllib.request.urlopen(f"{url}voila/static/", timeout=5).close()
                break
            except urllib.error.HTTPError:
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() - started > APP_START_TIMEOUT:
                    raise RuntimeError("circus-nb app did not answer:\n"
                                       + log.read_text()[-3000:]) from None
                time.sleep(0.25)
        yield App(url, log, time.monotonic() - started)
    finally:
        _stop(process)


def select_series(series_browser, uid: str) -> None:
    """Click the row of series ``uid`` in the SeriesBrowser's results table."""
    series_browser.locator(f'.cnb-table tbody tr[data-key="{uid}"]').click()


def make_case(page, expect, series_browser, uid: str, double_click: bool) -> str:
    """Select ``uid``, press New Case, press Create (twice fast with ``double_click``);
    return the id of the case the form says it made."""
    select_series(series_browser, uid)
    expect(series_browser.get_by_text(f"Series UID: {uid}")).to_be_visible()
    series_browser.get_by_role("button", name="New Case", exact=True).click()
    create = series_browser.get_by_role("button", name=re.compile(r"^Create Case for "))
    expect(create).to_have_text(f"Create Case for {DEMO_PROJECT}")
    if double_click:
        create.dblclick()
    else:
        create.click()
    created = series_browser.get_by_text(re.compile(r"^Created case \S+ in "))
    expect(created).to_be_visible()
    expect(create).to_be_disabled()
    return re.match(r"Created case (\S+) in", created.inner_text()).group(1)


def test_the_app_shows_the_tour_and_makes_a_case_with_the_mouse(browser, expect, tmp_path,
                                                                 screenshot):
    store_path = tmp_path / "store"
    cnb.demo_store(store_path).close()
    with cnb.Store.open(store_path, user=USER, read_only=True) as store:
        uids = dict(zip(store.search_series()["series_description"],
                        store.search_series()["series_uid"], strict=True))
    clicked, double_clicked = uids["Abdomen CT 5 mm"], uids["Chest CT feet to head"]

    with circus_nb_app(store_path, tmp_path / "home") as app:
        print(f"circus-nb app answered after {app.started_in:.1f} s")
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        outside: list[str] = []  # what the page asked of other machines (refused)
        context.route(re.compile(r"^(?!http://127\.0\.0\.1:)"),
                      lambda route: (outside.append(route.request.url), route.abort()))
        page = context.new_page()
        try:
            loading = time.monotonic()
            page.goto(app.url)
            outputs = page.locator(".jp-OutputArea-output")
            series_browser = outputs.filter(
                has=page.get_by_role("button", name="New Case", exact=True)).first
            expect(series_browser.get_by_text("Showing series 1-5 of 5.")).to_be_visible(
                timeout=PAGE_TIMEOUT)
            expect(page.get_by_role("button", name="Import", exact=True)).to_be_visible(
                timeout=PAGE_TIMEOUT)  # the last widget of the tour
            expect(page.locator("canvas").first).to_be_visible()  # the CaseViewer's
            print(f"the page showed every widget after {time.monotonic() - loading:.1f} s")

            text = page.locator("body").inner_text()
            assert "Error displaying widget" not in text
            for code in ("import circus_nb", "os.environ", "SeriesBrowser(store", "store.close"):
                assert code not in text, f"code is shown: {code!r}"
            assert page.locator(".jp-CodeCell .jp-InputArea, .jp-InputPrompt, .cm-editor"
                                ).count() == 0
            expect(page.get_by_text(f"Signed in as {USER}: 5 series")).to_be_visible()
            expect(page.get_by_role("heading", name="A tour of the widgets")).to_be_visible()
            page.set_viewport_size({"width": 1400, "height": 3700})  # the whole tour at once
            screenshot(page, "app.png")
            page.set_viewport_size({"width": 1400, "height": 1000})

            first = make_case(page, expect, series_browser, clicked, double_click=False)
            second = make_case(page, expect, series_browser, double_clicked, double_click=True)
            screenshot(series_browser, "app_case_created.png")
            assert outside == []
        finally:
            context.close()

    with cnb.Store.open(store_path, user=USER, read_only=True) as store:
        found = store.search_cases()
        series = {case_id: [e.series_uid for e in store.case(case_id).latest.series]
                  for case_id in found["case_id"]}
    mine = {case_id: entries for case_id, entries in series.items()
            if case_id in (first, second)}
    assert mine == {first: [clicked], second: [double_clicked]}
    # the tour made one case of its own (for its editor and viewer): the lung CT's
    assert [u for u in series.values() if u not in ([clicked], [double_clicked])] == [
        [uids["Chest CT lung 2.5 mm"]]]
    assert len(series) == 3  # so the double click made one case, not two
