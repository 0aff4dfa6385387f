"""The command line: options, and a real process serving on a free port."""

from __future__ import annotations

import subprocess
import sys

import httpx

from dashscope_core.emulator.cli import build_emulator, build_parser


def test_options() -> None:
    args = build_parser().parse_args(
        [
            "--port",
            "0",
            "--seed",
            "3",
            "--fault-rate",
            "0.5",
            "--accept-key",
            "a",
            "--accept-key",
            "b",
        ]
    )
    emu = build_emulator(args)
    assert (args.host, args.port, emu.seed) == ("127.0.0.1", 0, 3)
    assert emu.accepts("a") and emu.accepts("b") and not emu.accepts("c")
    defaults = build_emulator(build_parser().parse_args([]))
    assert defaults.accepts("sk-anything") and not defaults.accepts("invalid-1")


def test_python_dash_m_serves() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "dashscope_core.emulator", "--port", "0", "--seed", "1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("DashScope emulator on http://127.0.0.1:")
        base_url = line.split()[-1]
        payload = {"model": "qwen-plus", "input": {"prompt": "hi"}}
        response = httpx.post(
            base_url + "/services/aigc/text-generation/generation",
            json=payload,
            headers={"Authorization": "Bearer k"},
            timeout=5,
        )
        assert response.status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=5)
