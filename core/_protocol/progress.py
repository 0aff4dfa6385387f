"""Progress from tqdm lines in prediction logs (PROTOCOL.md: `` 40%|████      | 2/5``).

Rules of this module:
- The LAST tqdm-looking line wins; tqdm rewrites its bar with ``\\r``, so ``\\r`` splits lines too.
- ``percentage`` is a fraction in 0..1 (the printed percent / 100), as the seed client reports it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Progress", "parse_progress"]

_TQDM = re.compile(r"^\s*(\d+(?:\.\d+)?)%\s*\|.*?\|\s*(\d+)/(\d+)")


@dataclass(frozen=True)
class Progress:
    """How far a run is: ``percentage`` in 0..1, ``current`` of ``total`` steps."""

    percentage: float
    current: int
    total: int


def parse_progress(prediction_or_logs: Any) -> Progress | None:
    """Progress from the last tqdm line of a prediction's ``logs`` (or of a log string)."""
    logs = prediction_or_logs
    if not isinstance(logs, str):
        logs = getattr(prediction_or_logs, "logs", None)
        if logs is None and isinstance(prediction_or_logs, dict):
            logs = prediction_or_logs.get("logs")
    if not isinstance(logs, str) or not logs:
        return None
    for line in reversed(re.split(r"\r\n|\r|\n", logs)):
        match = _TQDM.match(line)
        if match:
            percent, current, total = match.groups()
            return Progress(float(percent) / 100.0, int(current), int(total))
    return None
