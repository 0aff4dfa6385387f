"""examples/app_rag.py runs offline against the embedded emulator."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_app_rag_example_runs_offline() -> None:
    env = {
        k: v for k, v in os.environ.items() if k not in ("DASHSCOPE_API_KEY", "DASHSCOPE_BASE_URL")
    }
    done = subprocess.run([sys.executable, "app_rag.py"], cwd=EXAMPLES, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "(embedded emulator)" in out and "[1] Aurora lamp warranty" in out
    assert 'Your first question was: "How long is the warranty of the Aurora lamp?"' in out
    assert 'Your first question was: "How do I pair the lamp?"' in out
