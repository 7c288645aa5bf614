"""The import graph: packages import only downwards (einsum <- sim <- mapper <-
hls_templates <- cascade), modules form no cycle, no package reaches into another's private
modules, and no project import hides inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("einsum", "sim", "mapper", "hls_templates", "cascade")


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> list[tuple[str, str, bool, int]]:
    """(importer module, imported module, at module level, line) for project imports."""
    found = []
    for package in LAYERS:
        for path in sorted((ROOT / package).glob("*.py")):
            importer = _module(path)
            tree = ast.parse(path.read_text(), str(path))
            top = set(tree.body)
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom):
                    if node.level:
                        base = importer if path.name == "__init__.py" else \
                            importer.rsplit(".", 1)[0]
                        target = f"{base}.{node.module}" if node.module else base
                    else:
                        target = node.module or ""
                    names = [target]
                elif isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                else:
                    continue
                for name in names:
                    if name.split(".")[0] in LAYERS:
                        found.append((importer, name, node in top, node.lineno))
    return found


def test_packages_import_only_downwards() -> None:
    upward = [f"{a} imports {b} (line {line})" for a, b, _top, line in _imports()
              if LAYERS.index(b.split(".")[0]) > LAYERS.index(a.split(".")[0])]
    assert upward == []


def test_no_package_reaches_into_another_private_module() -> None:
    private = [f"{a} imports {b} (line {line})" for a, b, _top, line in _imports()
               if a.split(".")[0] != b.split(".")[0] and "._" in b]
    assert private == []


def test_project_imports_sit_at_module_level() -> None:
    local = [f"{a} imports {b} (line {line})" for a, b, top, line in _imports() if not top]
    assert local == []


def test_modules_form_no_cycle() -> None:
    # Between modules only: a package's face (its __init__) gathers its own modules, and
    # imports across packages go through faces, which the layering test orders.
    graph = nx.DiGraph((a, b) for a, b, _top, _line in _imports() if "." in a and "." in b)
    assert list(nx.simple_cycles(graph)) == []
