"""No hidden import cycles: every module imports first in a fresh interpreter, in any
order, and no function imports a storybench module to dodge a cycle."""

from __future__ import annotations

import ast
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "storybench"


def _modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__main__":  # runs the CLI when imported
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


MODULES = _modules()


def _run(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)


def test_every_module_imports_first_in_a_fresh_interpreter():
    """Each module as the first storybench import (a cycle shows up as a partially
    initialised module). One interpreter: storybench's modules are dropped from
    ``sys.modules`` before each import, third-party ones stay loaded (they are no part
    of a storybench cycle and would make this slow)."""
    code = (
        "import importlib, sys\n"
        f"mods = {MODULES!r}\n"
        "bad = []\n"
        "for m in mods:\n"
        "    for name in [n for n in sys.modules if n == 'storybench' or n.startswith('storybench.')]:\n"
        "        del sys.modules[name]\n"
        "    try:\n"
        "        importlib.import_module(m)\n"
        "    except Exception as exc:\n"
        "        bad.append((m, f'{type(exc).__name__}: {exc}'))\n"
        "print(bad)\n"
    )
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", proc.stdout


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_all_modules_import_in_random_order(seed):
    order = MODULES[:]
    random.Random(seed).shuffle(order)
    proc = _run("import importlib\n" + "".join(f"importlib.import_module({m!r})\n" for m in order))
    assert proc.returncode == 0, f"order {order}: {proc.stderr[-2000:]}"


#: Call-time imports that are not about cycles: the editor's preview resolves page composition
#: and the storyboard renderer when it runs, so the editor works (with a message) without them.
CALL_TIME = {"storybench/editor/preview.py": {"storybench.compose", "storybench.render.storyboard"}}


def _function_level_imports(path: Path) -> list[tuple[int, str]]:
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for func in ast.walk(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if func.name == "__getattr__" and func in tree.body and path.name == "__init__.py":
            continue  # PEP 562 lazy attribute of a package: keeps ipywidgets out of non-widget imports
        for node in ast.walk(func):
            if isinstance(node, ast.ImportFrom):
                found.append((node.lineno, "." * node.level + (node.module or "")))
            elif isinstance(node, ast.Import):
                found.extend((node.lineno, alias.name) for alias in node.names)
    return found


def test_no_function_imports_a_storybench_module():
    """Imports inside functions are kept for optional or heavy third-party packages only:
    a storybench module imported inside a function hides a cycle (move the shared piece
    to the module that owns its subject instead)."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for line, module in _function_level_imports(path):
            allowed = CALL_TIME.get(path.relative_to(ROOT).as_posix(), set())
            if module.startswith(("storybench", ".")) and module not in allowed:
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {module}")
    assert offenders == []
