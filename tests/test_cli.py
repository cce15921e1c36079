from pathlib import Path

import circus_nb as cnb
from circus_nb.cli import main

QUICKSTART = str(Path(__file__).resolve().parents[1] / "notebooks" / "01_quickstart.ipynb")


def test_headless_demo_runs_the_quickstart_in_the_demo_store(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("CIRCUS_NB_STORE", raising=False)
    path = tmp_path / "demo"
    assert main(["demo", "--path", str(path), "--headless", "--notebook", QUICKSTART]) == 0
    out = capsys.readouterr().out
    assert "Made a demo store" in out and "Ran 01_quickstart.ipynb end to end" in out
    assert f"The store is at {path}" in out
    assert (path / "01_quickstart.executed.ipynb").is_file()
    with cnb.Store.open(path, user="bob@example.org") as bob:
        assert list(bob.projects("read")["name"]) == ["Chest CT demo"]
        assert bob.projects("write").empty
        assert len(bob.search_series()) == 5
        assert len(bob.search_cases()) == 2  # the quickstart's cases, in this store
    assert main(["demo", "--path", str(path), "--headless", "--notebook", QUICKSTART]) == 0
    assert "Using the demo store already" in capsys.readouterr().out


def test_demo_opens_jupyterlab_on_the_notebook(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr("subprocess.call", lambda command: calls.append(command) or 0)
    assert main(["demo", "--path", str(tmp_path / "d"), "--notebook", QUICKSTART]) == 0
    assert calls[0][1:4] == ["-m", "jupyterlab", QUICKSTART]


def test_a_missing_notebook_is_a_clear_error(tmp_path, capsys):
    assert main(["demo", "--path", str(tmp_path / "d"), "--headless", "--notebook",
                 str(tmp_path / "none.ipynb")]) == 1
    assert "No notebook at" in capsys.readouterr().err


def test_import_and_info(tmp_path, samples, capsys):
    cnb.Store.create(tmp_path / "s").close()
    folder = samples[1]["abdomen_ct"].folder
    assert main(["import", str(tmp_path / "s"), str(folder), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "50 imported" in out
    assert main(["info", str(tmp_path / "s")]) == 0
    assert "user: admin@example.org" in capsys.readouterr().out


def test_errors_go_to_stderr(tmp_path, capsys):
    assert main(["info", str(tmp_path / "missing")]) == 1
    assert "circus-nb: No store" in capsys.readouterr().err
    cnb.Store.create(tmp_path / "s").close()
    assert main(["import", str(tmp_path / "s"), str(tmp_path), "--domain", "x", "--quiet"]) == 1
    assert "needs the domain 'x'" in capsys.readouterr().err
