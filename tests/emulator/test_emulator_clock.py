"""One clock, ``emu.clock``, drives every timeline of the emulator."""

from __future__ import annotations

import time

import httpx

from dashscope_core.emulator import Emulator, ServerHandle

AUTH = {"Authorization": "Bearer sk-emulator-clock"}

T0 = 1_776_414_394.0  # 2026-04-17 16:26:34 Beijing time
TASK = {"model": "wanx-v1", "input": {"prompt": "a cat"}, "parameters": {"n": 1}}


def test_tasks_predictions_and_compatible_mode_read_emu_clock(
    client: httpx.Client, server: ServerHandle, emu: Emulator
) -> None:
    emu.clock.source = lambda: T0
    task_id = client.post(
        "/services/aigc/text2image/image-synthesis",
        json=TASK,
        headers={"X-DashScope-Async": "enable"},
    ).json()["output"]["task_id"]
    prediction = client.post(
        "/models/emulator/hello-world/predictions", json={"input": {"text": "a"}}
    ).json()
    compat = httpx.Client(base_url=f"{server.origin}/compatible-mode/v1", headers=AUTH)
    with compat:
        chat = compat.post(
            "/chat/completions",
            json={"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}]},
        ).json()
        file = compat.post(
            "/files", files={"file": ("in.jsonl", b"{}")}, data={"purpose": "batch"}
        ).json()
    task = client.get(f"/tasks/{task_id}").json()["output"]
    assert task["task_status"] == "PENDING"
    assert task["submit_time"] == "2026-04-17 16:26:34.000"
    assert prediction["created_at"] == "2026-04-17T08:26:34.000000Z"
    assert chat["created"] == file["created_at"] == int(T0)

    emu.clock.advance(3600)  # an hour passes at once for every timeline
    assert client.get(f"/tasks/{task_id}").json()["output"]["task_status"] == "SUCCEEDED"
    assert client.get(f"/predictions/{prediction['id']}").json()["status"] == "succeeded"


def test_reset_restores_the_real_time(emu: Emulator) -> None:
    emu.clock.source = lambda: T0
    emu.clock.advance(10)
    assert emu.clock() == T0 + 10
    emu.reset()
    assert abs(emu.clock() - time.time()) < 60
