"""Import hygiene: ``import dashscope_core`` is cheap and lazy; no top-level ``core`` installed."""

from __future__ import annotations

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
    # read in a fresh interpreter outside the repo: a build's ``dashscope_ext.egg-info`` left in
    # the checkout would otherwise shadow the installed metadata
    code = (
        "import importlib.metadata as m, importlib.util as u\n"
        "files = m.files('dashscope-ext') or []\n"
        "print(len(files) > 0, [str(f) for f in files if str(f).split('/')[0] == 'core'],"
        " 'core' in (m.distribution('dashscope-ext').read_text('top_level.txt') or '').split(),"
        " u.find_spec('core'))"
    )
    assert run_python(code, tmp_path) == "True [] False None"
