"""What ``from llamaindex_dashscope_ext import DashScopeLLM`` loads: the LLM, not the core
client and its transport (they load when the first LLM is built)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_CODE = """
import sys
from llamaindex_dashscope_ext import DashScopeLLM
later = ["dashscope_core._client", "dashscope_core._transport", "dashscope_core._ratelimiter"]
print(sorted(name for name in later if name in sys.modules))
llm = DashScopeLLM(model="qwen-plus", api_key="sk-test", base_url="http://127.0.0.1:9/api/v1")
print(type(llm._client).__name__, type(llm._async_client()).__name__)
"""


def test_llm_import_leaves_the_client_for_the_first_llm(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", _CODE], cwd=tmp_path, capture_output=True,
                          text=True, check=True)  # fmt: skip
    assert done.stdout.split("\n")[:2] == ["[]", "DashScope AsyncDashScope"]
