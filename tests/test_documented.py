"""Every public name is shown in use: in a notebook or in a docstring example."""

import ast
import inspect
import json
from pathlib import Path

import pytest

import circus_nb
import circus_nb.widgets
from circus_nb import Case, Store

ROOT = Path(__file__).resolve().parents[1]


def _notebook_code() -> str:
    cells = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        notebook = json.loads(path.read_text())
        cells += ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
    return "\n".join(cells)


def _docstring_examples() -> str:
    examples = []
    for path in (ROOT / "circus_nb").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef):
                doc = ast.get_docstring(node) or ""
                examples += [line for line in doc.splitlines()
                             if line.lstrip().startswith((">>>", "..."))]
    return "\n".join(examples)


USED = _notebook_code() + "\n" + _docstring_examples()


def _public(names, owner) -> list[str]:
    return sorted(n for n in names if not n.startswith("_") and callable(getattr(owner, n)))


@pytest.mark.parametrize("name", [n for n in circus_nb.__all__ if not n.startswith("_")]
                         + circus_nb.widgets.__all__)
def test_public_name_is_shown_in_use(name):
    assert name in USED, f"{name} appears in no notebook and no docstring example"


@pytest.mark.parametrize(("owner", "method"), [
    (owner, name) for owner in (Store, Case)
    for name in _public(vars(owner), owner) if inspect.isfunction(getattr(owner, name))
])
def test_public_method_is_shown_in_use(owner, method):
    assert f".{method}(" in USED, f"{owner.__name__}.{method} is used in no notebook or example"
