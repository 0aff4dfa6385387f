"""``python3 dev.py demo`` installs everything the demo imports (a fresh clone has nothing else).

Every module the demo's parts import (``examples/demo.py``'s ``PARTS`` and what they import, at
the top or inside a function) must come from the standard library, from this project, from
another example, or from a distribution in the requirement closure of
``dashscope-ext[<the extra dev.py demo installs>]``, read from the installed distributions'
metadata (dev.py reinstalls the project whenever ``pyproject.toml`` changes).
A ``langgraph`` installed only by the ``dev`` extra fails.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
OURS = {"dashscope_core", "langchain_dashscope_ext", "llamaindex_dashscope_ext"}


def _dev_module() -> object:
    spec = importlib.util.spec_from_file_location("dev_commands", ROOT / "dev.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _demo_files() -> list[Path]:
    """``examples/demo.py``, its ``PARTS`` and the example modules they import, transitively."""
    tree = ast.parse((EXAMPLES / "demo.py").read_text())
    parts = next(n.value for n in tree.body if isinstance(n, ast.Assign)
                 and any(getattr(t, "id", None) == "PARTS" for t in n.targets))  # fmt: skip
    todo = ["demo", *(module for _, module in ast.literal_eval(parts))]
    seen: list[Path] = []
    while todo:
        path = EXAMPLES / f"{todo.pop()}.py"
        if path in seen:
            continue
        seen.append(path)
        todo += [m for m in _imports(path) if (EXAMPLES / f"{m}.py").exists()]
    return seen


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _imported_modules() -> set[str]:
    return set().union(*(_imports(path) for path in _demo_files()))


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(extras: str) -> set[str]:
    """Distributions ``pip install .[extras]`` brings in (installed metadata, extras followed)."""
    pending = [Requirement(f"dashscope-ext[{extras}]")]
    found: set[str] = set()
    visited: set[tuple[str, str]] = set()
    while pending:
        req = pending.pop()
        name = _canonical(req.name)
        wanted = {(name, extra) for extra in ("", *req.extras)} - visited
        if not wanted:
            continue
        visited |= wanted
        found.add(name)
        try:
            texts = requires(req.name) or []
        except PackageNotFoundError:
            continue  # not installed here: its own dependencies cannot be read
        for sub in map(Requirement, texts):
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for _, e in wanted):
                pending.append(sub)
    return found


def test_demo_installs_everything_the_examples_import() -> None:
    extras = _dev_module().DEMO_EXTRAS  # type: ignore[attr-defined]
    installed = _closure(extras)
    providers = packages_distributions()
    local = {p.stem for p in EXAMPLES.glob("*.py")}
    missing = {}
    for module in sorted(_imported_modules() - OURS - local - set(sys.stdlib_module_names)):
        dists = {_canonical(d) for d in providers.get(module, [])}
        if not dists & installed:
            missing[module] = sorted(dists) or ["(not installed at all)"]
    assert not missing, f"dev.py demo (extra {extras!r}) does not install: {missing}"


def test_the_closure_reads_metadata_not_a_guess() -> None:
    core = _closure("langchain")
    assert {"httpx", "pydantic", "tenacity", "langchain-core", "langsmith"} <= core
    assert "langgraph" not in core and "llama-index-core" not in core


def test_the_demo_files_are_its_parts() -> None:
    names = {path.stem for path in _demo_files()}
    assert {"demo", "_backend", "langgraph_agent", "app_rag", "llamaindex_agent"} <= names
