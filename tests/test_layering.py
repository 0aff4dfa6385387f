"""The layering CONTRIBUTING.md describes, checked on the source: pure modules do no I/O, the
frameworks import only core's public modules, and only the profile table knows model families."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PURE = sorted([*ROOT.glob("core/_protocol/*.py"), *ROOT.glob("core/types/*.py")])
FRAMEWORKS = sorted([*ROOT.glob("langchain_dashscope_ext/*.py"),
                     *ROOT.glob("llamaindex_dashscope_ext/*.py")])  # fmt: skip
CODE = sorted(p for p in ROOT.glob("core/**/*.py") if p.name != "_profile_data.py")
_IO = {"httpx", "asyncio", "time", "os", "aiohttp", "socket"}
# a model name's fragment deciding something ("-vl" in model, model.startswith("qwen3")): only
# the profile table may know models
_DECIDES = re.compile(
    r"""["'][^"'\n]+["']\s+(not\s+)?in\s+[\w.]*model\b"""
    r"|\bmodel[\w.]*\.(lower\(\)\.)?(startswith|endswith)\("
)


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", PURE, ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_modules_do_no_io(path: Path) -> None:
    assert not [n for n in _imports(path) if n.split(".")[0] in _IO]


@pytest.mark.parametrize("path", FRAMEWORKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_frameworks_import_only_public_core_modules(path: Path) -> None:
    core = [n for n in _imports(path) if n.split(".")[0] == "dashscope_core"]
    assert not [n for n in core if any(part.startswith("_") for part in n.split(".")[1:])]


@pytest.mark.parametrize("path", [*CODE, *FRAMEWORKS], ids=lambda p: str(p.relative_to(ROOT)))
def test_no_model_family_is_told_by_its_name_outside_the_profile_table(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert not [line for line in lines if _DECIDES.search(line)]
