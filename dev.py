#!/usr/bin/env python3
"""The project's two commands, runnable with nothing but Python 3.10+ and pip.

    python3 dev.py demo    # the demo (embedded emulator unless DASHSCOPE_API_KEY is set)
    python3 dev.py test    # ruff, mypy (strict on core/) and the whole pytest suite

Each creates ./.venv on first use and installs the project with the extras it needs.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
DEMO_EXTRAS = "demo"
"""The extra ``demo`` installs: everything ``examples/`` imports (a test checks it)."""


def _run(*args: str | Path, **env: str) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    result = subprocess.run([str(a) for a in args], cwd=ROOT, env={**os.environ, **env})
    if result.returncode:
        sys.exit(result.returncode)


def _ensure_venv(extras: str) -> None:
    """Create .venv and (re)install the project when pyproject.toml or the extras changed."""
    if not PY.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    stamp = VENV / f".installed-{extras}"
    if stamp.exists() and stamp.read_text() == digest:
        return
    _run(PY, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-e", f".[{extras}]")
    stamp.write_text(digest)


def demo() -> None:
    _ensure_venv(DEMO_EXTRAS)
    _run(PY, "examples/demo.py")


def test() -> None:
    _ensure_venv("dev")
    typecheck = ROOT / "build" / "typecheck"
    typecheck.mkdir(parents=True, exist_ok=True)
    link = typecheck / "dashscope_core"
    if not link.exists():
        link.symlink_to(ROOT / "core", target_is_directory=True)
    _run(BIN / "ruff", "check", ".")
    _run(BIN / "ruff", "format", "--check", ".")
    _run(BIN / "mypy", "-p", "dashscope_core", MYPYPATH=str(typecheck))
    _run(
        BIN / "mypy", "langchain_dashscope_ext", "llamaindex_dashscope_ext", MYPYPATH=str(typecheck)
    )
    _run(BIN / "pytest", *sys.argv[2:])


if __name__ == "__main__":
    commands = {"demo": demo, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(f"usage: python3 dev.py {{{'|'.join(commands)}}} [pytest args]")
    commands[sys.argv[1]]()
