import circus_nb as cnb
from circus_nb.cli import main


def test_demo_makes_a_store_then_reuses_it(tmp_path, capsys):
    path = tmp_path / "demo"
    assert main(["demo", "--path", str(path), "--headless"]) == 0
    assert "Made a demo store" in capsys.readouterr().out
    assert main(["demo", "--path", str(path), "--headless"]) == 0
    out = capsys.readouterr().out
    assert "Using the demo store already" in out and "Chest CT demo" in out
    with cnb.Store.open(path, user="bob@example.org") as bob:
        assert list(bob.projects("read")["name"]) == ["Chest CT demo"]
        assert bob.projects("write").empty
    with cnb.Store.open(path, user="alice@example.org") as alice:
        assert list(alice.projects("write")["name"]) == ["Chest CT demo"]


def test_info_and_errors_go_to_stderr(tmp_path, capsys):
    main(["demo", "--path", str(tmp_path / "d"), "--headless"])
    assert main(["info", str(tmp_path / "d"), "--user", "bob@example.org"]) == 0
    assert "user: bob@example.org" in capsys.readouterr().out
    assert main(["info", str(tmp_path / "missing")]) == 1
    assert "circus-nb: No store" in capsys.readouterr().err
