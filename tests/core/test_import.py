"""Import hygiene: ``import dashscope_core`` is cheap and lazy; no top-level ``core`` installed."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path


def run_python(code: str, cwd: Path) -> str:
    """Run ``code`` in a fresh interpreter (outside the repo, so ./core is not on sys.path)."""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_import_does_not_load_httpx_or_pydantic(tmp_path: Path) -> None:
    code = (
        "import sys, dashscope_core\n"
        "heavy = ['httpx', 'pydantic', 'tenacity', 'aiohttp', 'dashscope_core._client']\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    assert run_python(code, tmp_path) == "[]"


def test_public_names_load_on_first_use(tmp_path: Path) -> None:
    code = (
        "import dashscope_core as d\n"
        "print(d.DashScope.__name__, d.AsyncDashScope.__name__, d.RetryPolicy.__name__,"
        " d.errors.DashScopeError.__name__, d.__version__ == d._version.__version__)"
    )
    assert run_python(code, tmp_path) == "DashScope AsyncDashScope RetryPolicy DashScopeError True"


def test_no_top_level_core_module_installed(tmp_path: Path) -> None:
    files = importlib.metadata.files("dashscope-ext") or []
    assert not [f for f in files if str(f).split("/")[0] == "core"]
    top_level = importlib.metadata.distribution("dashscope-ext").read_text("top_level.txt")
    assert "core" not in (top_level or "").split()
    assert (
        run_python("import importlib.util; print(importlib.util.find_spec('core'))", tmp_path)
        == "None"
    )


PURE = ["_protocol", "types"]
FORBIDDEN = {"httpx", "aiohttp", "asyncio", "time", "os", "socket"}


def test_pure_layers_import_no_io() -> None:
    # STYLE.md §1: code that could run with no network and no event loop stays pure
    import ast

    core = Path(__file__).resolve().parents[2] / "core"
    offenders = []
    for folder in PURE:
        for path in sorted((core / folder).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []
