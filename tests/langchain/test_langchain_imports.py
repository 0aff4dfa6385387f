"""What ``from langchain_dashscope_ext import ChatDashScope`` loads: the model, not the client,
the rate limiter or the Batch API (each loads on first use)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_CODE = """
import sys
from langchain_dashscope_ext import ChatDashScope
later = ["dashscope_core._client", "dashscope_core._ratelimiter", "langchain_dashscope_ext._batch",
         "dashscope_core.resources.batches"]
print(sorted(name for name in later if name in sys.modules))
model = ChatDashScope(model="qwen-plus", api_key="sk-test", base_url="http://127.0.0.1:9/api/v1")
print(type(model.client).__name__, type(model.async_client).__name__)
"""


def test_chat_model_import_leaves_client_limiter_and_batch_api_for_first_use(
    tmp_path: Path,
) -> None:
    done = subprocess.run([sys.executable, "-c", _CODE], cwd=tmp_path, capture_output=True,
                          text=True, check=True)  # fmt: skip
    assert done.stdout.split("\n")[:2] == ["[]", "DashScope AsyncDashScope"]
