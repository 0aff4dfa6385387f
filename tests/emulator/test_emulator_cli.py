"""The command line: options, and a real process serving on a free port."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

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


def test_every_fault_kind_is_reachable_from_the_cli() -> None:
    from dashscope_core.emulator.faults import FAULT_KINDS

    args = build_parser().parse_args(["--fault-rate", "1", "--faults", ",".join(FAULT_KINDS)])
    emu = build_emulator(args)
    seen = {emu.faults.take("generation").kind for _ in range(400)}  # type: ignore[union-attr]
    assert seen == set(FAULT_KINDS)
    args = build_parser().parse_args(["--fault-rate", "1", "--faults", "cut,error_event"])
    emu = build_emulator(args)
    kinds = {emu.faults.take("generation").kind for _ in range(50)}  # type: ignore[union-attr]
    assert kinds == {"cut_stream", "error_event"}


def test_an_unknown_fault_kind_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--faults", "meteor"])
    assert "unknown fault 'meteor'" in capsys.readouterr().err
