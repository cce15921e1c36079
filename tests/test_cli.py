"""The circus-nb command, as a shell user runs it."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import circus_nb as cnb
from circus_nb.app import TOUR
from circus_nb.cli import main

QUICKSTART = str(Path(__file__).resolve().parents[1] / "notebooks" / "01_quickstart.ipynb")


@pytest.fixture(autouse=True)
def _no_demo_store_variable(monkeypatch):
    monkeypatch.delenv("CIRCUS_NB_STORE", raising=False)


def run(capsys, *argv):
    """``(exit status, stdout, stderr)`` of ``circus-nb argv...``."""
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def headless(capsys, path, *more):
    return run(capsys, "demo", "--path", path, "--headless", "--notebook", QUICKSTART, *more)


# -- demo --------------------------------------------------------------------------------------


def test_headless_demo_runs_the_quickstart_from_a_known_state_every_time(tmp_path, capsys):
    path = tmp_path / "demo"
    status, out, _ = headless(capsys, path)
    assert status == 0
    assert "Made a demo store" in out and "Ran 01_quickstart.ipynb end to end" in out
    assert f"The store is at {path}" in out
    executed = tmp_path / "01_quickstart.executed.ipynb"
    assert executed.is_file()
    assert list(path.glob("*.ipynb")) == []  # nothing but the store in the store folder
    with cnb.Store.open(path, user="bob@example.org") as bob:
        assert list(bob.projects("read")["name"]) == ["Chest CT demo"]
        assert bob.projects("write").empty
        assert len(bob.search_series()) == 5
        assert len(bob.search_cases()) == 2  # the quickstart's cases, in this store
    status, out, _ = headless(capsys, path)  # again: the same state, not two more cases
    assert status == 0 and "Made a demo store" in out
    assert "2 case(s) in the demo project." in out


def test_demo_reuses_its_store_unless_asked_for_a_fresh_one(tmp_path, capsys, monkeypatch):
    calls = []
    monkeypatch.setattr("subprocess.call", lambda command: calls.append(command) or 0)
    path = tmp_path / "d"
    assert run(capsys, "demo", "--path", path, "--notebook", QUICKSTART)[0] == 0
    assert calls[0][1:4] == ["-m", "jupyterlab", QUICKSTART]
    with cnb.Store.open(path, user="alice@example.org") as alice:
        uid = alice.search_series()["series_uid"][0]
        alice.create_case(alice.projects()["project_id"][0], [uid])
    status, out, _ = run(capsys, "demo", "--path", path, "--notebook", QUICKSTART)
    assert status == 0 and "Using the demo store already" in out and "--fresh" in out
    with cnb.Store.open(path, user="alice@example.org") as alice:
        assert len(alice.search_cases()) == 1  # kept
    status, out, _ = run(capsys, "demo", "--path", path, "--fresh", "--notebook", QUICKSTART)
    assert status == 0 and "Made a demo store" in out
    with cnb.Store.open(path, user="alice@example.org") as alice:
        assert len(alice.search_cases()) == 0  # back to the sample data


def test_fresh_never_deletes_a_folder_that_is_not_a_store(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.tex").write_text("precious")
    status, _, err = run(capsys, "demo", "--path", folder, "--fresh", "--notebook", QUICKSTART)
    assert status == 1 and "holds files but no store" in err
    assert (folder / "thesis.tex").read_text() == "precious"


def test_fresh_refuses_a_demo_store_that_is_still_open(tmp_path, capsys):
    path = tmp_path / "d"
    cnb.demo_store(path).close()
    with cnb.Store.open(path, user="alice@example.org"):
        status, _, err = headless(capsys, path)
    assert status == 1 and "in use" in err
    assert (path / "catalog.duckdb").is_file()


def test_a_missing_notebook_is_a_clear_error(tmp_path, capsys):
    status, _, err = run(capsys, "demo", "--path", tmp_path / "d", "--headless", "--notebook",
                         tmp_path / "none.ipynb")
    assert status == 1 and "No notebook at" in err
    assert not (tmp_path / "d").exists()  # checked before the store is made


def test_a_notebook_that_fails_is_reported_in_one_line(tmp_path, capsys):
    import nbformat

    broken = tmp_path / "broken.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("1 / 0")]
    nbformat.write(nb, broken)
    status, _, err = run(capsys, "demo", "--path", tmp_path / "d", "--headless", "--notebook",
                         broken)
    assert status == 1
    assert "broken.ipynb stopped at an error (ZeroDivisionError: division by zero)" in err
    assert (tmp_path / "broken.executed.ipynb").is_file()


# -- app ---------------------------------------------------------------------------------------


@pytest.fixture
def voila_calls(monkeypatch):
    """What ``circus-nb app`` would run: ``(command, env, store seen)`` per call, Voila not
    started. The store is looked at during the call (a demo store lives only that long)."""
    calls = []

    def call(command, env):
        path = Path(env["CIRCUS_NB_STORE"])
        with cnb.Store.open(path, user=env["CIRCUS_NB_USER"], read_only=True) as store:
            calls.append((command, env, path, len(store.search_series())))
        return 0

    monkeypatch.setattr("subprocess.call", call)
    return calls


def test_app_serves_the_packaged_tour_on_a_store(tmp_path, capsys, voila_calls):
    cnb.demo_store(tmp_path / "s").close()
    status, out, _ = run(capsys, "app", "--store", tmp_path / "s", "--user", "bob@example.org",
                         "--port", 8123, "--no-browser")
    assert status == 0
    [(command, env, _, _)] = voila_calls
    assert command[1:4] == ["-m", "voila", str(TOUR)]
    assert TOUR.is_file() and TOUR.parent.name == "app"  # package data
    for flag in ("--strip_sources=True", "--Voila.ip=127.0.0.1", "--port=8123", "--no-browser"):
        assert flag in command
    assert (env["CIRCUS_NB_STORE"], env["CIRCUS_NB_USER"]) == (str(tmp_path / "s"),
                                                               "bob@example.org")
    assert "http://127.0.0.1:8123/" in out


def test_app_without_a_store_makes_a_demo_store_per_run(capsys, voila_calls):
    for _ in range(2):
        status, out, _ = run(capsys, "app")
        assert status == 0 and "a fresh demo store" in out
    (_, env, one, series), (last, _, two, _) = voila_calls
    assert one != two and series == 5  # the demo's series, as alice sees them
    assert env["CIRCUS_NB_USER"] == "alice@example.org"
    assert not one.exists() and not two.exists()  # deleted when the app stopped
    assert "--no-browser" not in last
    port = int(next(a for a in last if a.startswith("--port=")).split("=")[1])
    assert f"http://127.0.0.1:{port}/" in out and port > 0  # a free port, chosen


def test_app_without_voila_says_how_to_install_it(monkeypatch, capsys, voila_calls):
    monkeypatch.setitem(sys.modules, "voila", None)  # import voila raises ImportError
    status, out, err = run(capsys, "app", "--no-browser")
    assert status == 1 and out == "" and voila_calls == []
    assert err.strip() == ('circus-nb: circus-nb app needs Voila, which is not installed.'
                           ' Install it with: pip install "circus-nb[app]"')


def test_app_arguments_are_checked_before_voila_starts(tmp_path, capsys, voila_calls):
    status, _, err = run(capsys, "app", "--store", tmp_path / "none")
    assert status == 1 and "No store at" in err and "circus-nb create" in err
    status, _, err = run(capsys, "app", "--user", "bob@example.org")
    assert status == 1 and "--user names a user of --store" in err
    for port in ("0", "http", "70000"):
        with pytest.raises(SystemExit) as done:
            main(["app", "--port", port])
        assert done.value.code == 2
        assert "a port is a number from 1 to 65535" in capsys.readouterr().err
    assert voila_calls == []


# -- create, import, info, cases, export ------------------------------------------------------


def test_create_then_import_then_info(tmp_path, samples, capsys):
    store = tmp_path / "s"
    status, out, _ = run(capsys, "create", store, "--admin", "ann@example.org")
    assert status == 0 and "administered by ann@example.org" in out
    folder = samples[1]["abdomen_ct"].folder
    status, out, _ = run(capsys, "import", store, folder, "--quiet", "--user",
                         "ann@example.org")
    assert status == 0 and "50 imported" in out
    status, out, _ = run(capsys, "info", store, "--user", "ann@example.org")
    assert status == 0 and "user: ann@example.org" in out
    status, _, err = run(capsys, "create", store)
    assert status == 1 and "exists and is not an empty folder" in err


def test_an_import_that_imports_nothing_fails(tmp_path, samples, capsys):
    cnb.Store.create(tmp_path / "s").close()
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "readme.txt").write_text("no images here")
    status, out, err = run(capsys, "import", tmp_path / "s", notes, "--quiet")
    assert status == 1 and "no DICOM file was imported" in err
    assert "1 not_dicom" in out
    folder = samples[1]["abdomen_ct"].folder
    assert run(capsys, "import", tmp_path / "s", folder, "--quiet")[0] == 0
    status, out, _ = run(capsys, "import", tmp_path / "s", folder, "--quiet")  # a no-op
    assert status == 0 and "50 already_present" in out


def test_strict_import_fails_on_any_refused_dicom_file(tmp_path, samples, capsys):
    cnb.Store.create(tmp_path / "s").close()
    folder = tmp_path / "mixed"
    folder.mkdir()
    source = sorted(samples[1]["abdomen_ct"].folder.glob("*.dcm"))[0]
    (folder / "good.dcm").write_bytes(source.read_bytes())
    (folder / "cut.dcm").write_bytes(source.read_bytes()[:1000])
    (folder / "readme.txt").write_text("not DICOM, not a problem")
    assert run(capsys, "import", tmp_path / "s", folder, "--quiet")[0] == 0
    status, _, err = run(capsys, "import", tmp_path / "s", folder, "--quiet", "--strict")
    assert status == 1 and "1 DICOM file(s) were not imported" in err


def test_cases_lists_what_the_user_can_read(tmp_path, capsys):
    path = tmp_path / "d"
    with cnb.demo_store(path) as alice:
        uid = alice.search_series(description="lung")["series_uid"][0]
        project_id = alice.projects()["project_id"][0]
        tagged = alice.create_case(project_id, [uid], tags=["nodule"]).case_id
        alice.create_case(project_id, [uid])
    status, out, _ = run(capsys, "cases", path, "--user", "bob@example.org", "--tag", "nodule")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split() == ["case_id", "project", "revision", "status", "tags",
                                "updated_at"]
    assert len(lines) == 2 and lines[1].startswith(tagged) and "Chest CT demo" in lines[1]
    status, out, _ = run(capsys, "cases", path, "--user", "bob@example.org", "--tag", "none")
    assert status == 0 and out.strip() == "No cases."


def test_export_writes_an_archive(tmp_path, capsys):
    path = tmp_path / "d"
    with cnb.demo_store(path) as alice:
        uid = alice.search_series(description="lung")["series_uid"][0]
        case_id = alice.create_case(alice.projects()["project_id"][0], [uid]).case_id
    target = tmp_path / "out.zip"
    status, out, _ = run(capsys, "export", path, case_id, "--to", target)
    assert status == 0 and f"Wrote {target}" in out
    with zipfile.ZipFile(target) as z:
        assert f"{case_id}/data.json" in z.namelist()
    status, _, err = run(capsys, "export", path, case_id, "--to", tmp_path / "b.zip",
                         "--user", "alice@example.org")
    assert status == 1 and "downloadVolume" in err


# -- messages for a shell ----------------------------------------------------------------------


def test_errors_go_to_stderr_worded_for_a_shell(tmp_path, capsys):
    status, out, err = run(capsys, "info", tmp_path / "missing")
    assert status == 1 and out == ""
    assert err.startswith("circus-nb: No store at") and "circus-nb create" in err
    assert "cnb." not in err and "Store.create" not in err
    cnb.Store.create(tmp_path / "s").close()
    status, _, err = run(capsys, "import", tmp_path / "s", tmp_path, "--domain", "x",
                         "--quiet")
    assert status == 1 and "needs the domain 'x'" in err


def test_a_missing_import_path_fails_before_any_progress_bar(tmp_path, capsys):
    cnb.Store.create(tmp_path / "s").close()
    status, out, err = run(capsys, "import", tmp_path / "s", "no/such/folder")
    assert status == 1
    assert "No file or folder 'no/such/folder'" in err and "current folder" in err
    assert "notebook" not in err
    assert "Reading" not in err + out and "%|" not in err  # no tqdm bar was started


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"circus-nb {cnb.__version__}"
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "``" not in text and ":class:" not in text
    for command in ("create", "import", "info", "cases", "export", "demo", "app"):
        assert command in text


def test_the_console_script_is_installed():
    result = subprocess.run([str(Path(sys.executable).parent / "circus-nb"), "--version"],
                            capture_output=True, text=True, check=True)
    assert result.stdout.startswith("circus-nb ")


def test_a_stopped_app_removes_its_demo_store_and_stops_voila():
    import re
    import signal
    import subprocess
    import sys
    import time

    pytest.importorskip("voila")
    process = subprocess.Popen([sys.executable, "-m", "circus_nb", "app", "--no-browser"],
                               stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()  # "Serving the widgets tour on ... <store> as ..."
        store = Path(re.search(r"demo store (\S+) as", line)[1])
        assert store.is_dir()
        time.sleep(2)  # Voila is starting
        process.send_signal(signal.SIGTERM)  # as kill or a service manager stops it
        assert process.wait(timeout=60) in (0, 130, -signal.SIGTERM, 143)
    finally:
        process.kill()
    assert not store.parent.exists()  # the temporary folder is gone
