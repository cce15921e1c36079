import circus_nb as cnb
from circus_nb.cli import main


def test_demo_makes_a_store_then_reuses_it(tmp_path, capsys):
    path = tmp_path / "demo"
    assert main(["demo", "--path", str(path), "--headless"]) == 0
    out = capsys.readouterr().out
    assert "Made a demo store" in out and "Chest CT" in out
    assert main(["demo", "--path", str(path), "--headless"]) == 0
    assert "Using the demo store already" in capsys.readouterr().out
    with cnb.Store.open(path, user="bob@example.org") as bob:
        assert list(bob.projects("read")["name"]) == ["Chest CT demo"]
        assert bob.projects("write").empty
        assert len(bob.search_series()) == 5


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
