"""The HTTP layer: binding, keep-alive, limits, malformed input, routing, auth, ids."""

from __future__ import annotations

import json
import socket

import httpx
import pytest
from emulator_helpers import EMB, GEN, body

from dashscope_core.emulator import (
    ApiError,
    Emulator,
    EmulatorApp,
    JSONResponse,
    Request,
    Response,
    Route,
    ServerHandle,
    aserve,
    serve,
)


def _raw(handle: ServerHandle, data: bytes) -> bytes:
    with socket.create_connection((handle.host, handle.port), timeout=5) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_binds_loopback_and_base_url(server: ServerHandle) -> None:
    assert server.host == "127.0.0.1"
    assert server.base_url == f"http://127.0.0.1:{server.port}/api/v1"


def test_keep_alive_reuses_one_connection(client: httpx.Client, emu: Emulator) -> None:
    ports = set()
    for _ in range(3):
        with client.stream("POST", GEN, json=body()) as response:
            response.read()
            stream = response.extensions["network_stream"]
            ports.add(stream.get_extra_info("client_addr")[1])
    assert len(ports) == 1
    assert emu.counters["generation"] == 3


def test_body_over_limit_answers_413(client: httpx.Client) -> None:
    response = client.post(GEN, content=b"x" * (1024 * 1024 + 1))
    assert response.status_code == 413
    data = response.json()
    assert data["code"] == "RequestTooLarge"
    assert data["request_id"] == response.headers["x-request-id"]


def test_malformed_json_answers_400(client: httpx.Client) -> None:
    response = client.post(GEN, content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidParameter"


def test_bad_http_answers_400_and_server_survives(
    server: ServerHandle, client: httpx.Client
) -> None:
    reply = _raw(server, b"THIS IS NOT HTTP\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400")
    assert b'"code"' in reply
    reply = _raw(server, b"POST /api/v1/x HTTP/1.1\r\nHost: a\r\nContent-Length: zz\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400")
    _raw(server, b"GET / HTTP/1.1\r\nHost")  # truncated then closed
    assert client.post(GEN, json=body()).status_code == 200


def test_unknown_path_404_and_wrong_method_405(client: httpx.Client) -> None:
    assert client.post("/nope").status_code == 404
    assert client.get(GEN).status_code == 405
    outside = client.post(client.base_url.copy_with(path="/elsewhere"), json={})
    assert outside.status_code == 404


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"Authorization": ""}, "No API-key provided."),
        ({"Authorization": "Bearer invalid-key"}, "Invalid API-key provided."),
        ({"Authorization": "Bearer sk-invalid-1"}, "Invalid API-key provided."),
        ({"Authorization": "Basic abc"}, "No API-key provided."),
    ],
)
def test_auth_errors(client: httpx.Client, headers: dict[str, str], message: str) -> None:
    response = client.post(GEN, json=body(), headers=headers)
    assert response.status_code == 401
    data = response.json()
    assert data == {"code": "InvalidApiKey", "message": message, "request_id": data["request_id"]}
    assert response.headers["x-request-id"] == data["request_id"]


def test_configured_keys(client: httpx.Client, emu: Emulator) -> None:
    emu.api_keys = {"only-this"}
    try:
        assert client.post(GEN, json=body()).status_code == 401
        ok = client.post(GEN, json=body(), headers={"Authorization": "Bearer only-this"})
        assert ok.status_code == 200
    finally:
        emu.api_keys = None


def test_request_ids_are_deterministic_uuid4(client: httpx.Client, emu: Emulator) -> None:
    first = [client.post(GEN, json=body()).headers["x-request-id"] for _ in range(2)]
    emu.reset()
    again = [client.post(GEN, json=body()).headers["x-request-id"] for _ in range(2)]
    assert first == again and first[0] != first[1]
    assert first[0][14] == "4" and len(first[0]) == 36
    other = Emulator(seed=8)
    assert other.next_request_id() != Emulator(seed=7).next_request_id()


def test_records_what_reached_the_wire(client: httpx.Client, emu: Emulator) -> None:
    client.post(GEN, json=body("hi"), headers={"X-DashScope-SSE": "enable"})
    client.post(EMB, json={"model": "text-embedding-v3", "input": {"texts": ["a"]}})
    (gen,) = emu.received("generation")
    assert gen.method == "POST" and gen.path == GEN
    assert gen.headers["x-dashscope-sse"] == "enable"
    assert gen.headers["authorization"].startswith("Bearer ")
    assert gen.json["input"]["messages"][0]["content"] == "hi"
    assert json.loads(gen.body) == gen.json
    assert emu.counters == {"generation": 1, "embeddings": 1}


async def _boom(request: Request, emulator: Emulator) -> Response:
    raise RuntimeError("kaput")


async def _teapot(request: Request, emulator: Emulator) -> Response:
    if request.params["name"] == "bad":
        raise ApiError(400, "InvalidParameter", "bad name")
    return JSONResponse({"name": request.params["name"], "q": request.query})


async def test_handler_exception_is_500_and_custom_routes() -> None:
    routes = [Route("GET", "/boom", _boom, kind="boom"),
              Route("GET", "/tea/{name}", _teapot, kind="tea", auth=False)]  # fmt: skip
    app = EmulatorApp(Emulator(), routes)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as http:
        boom = await http.get("/boom", headers={"Authorization": "Bearer k"})
        assert boom.status_code == 500
        assert boom.json()["code"] == "InternalError"
        assert boom.json()["request_id"] == boom.headers["x-request-id"]
        tea = await http.get("/tea/earl", params={"milk": "no"})
        assert tea.json() == {
            "name": "earl",
            "q": {"milk": "no"},
            "request_id": tea.headers["x-request-id"],
        }
        assert (await http.get("/tea/bad")).json()["message"] == "bad name"


async def test_aserve_on_the_running_loop() -> None:
    async with aserve(Emulator(seed=1)) as handle:
        assert handle.host == "127.0.0.1"
        async with httpx.AsyncClient(
            base_url=handle.base_url, headers={"Authorization": "Bearer k"}
        ) as http:
            response = await http.post(GEN, json=body())
    assert response.status_code == 200
    assert handle.emulator.counters["generation"] == 1


def test_serve_explicit_host_and_independent_instances() -> None:
    with serve(host="127.0.0.1") as one, serve() as two:
        assert one.port != two.port
        assert one.emulator is not two.emulator


async def test_asgi_transport_client(aclient: httpx.AsyncClient) -> None:
    response = await aclient.post(GEN, json=body("ping"))
    assert response.status_code == 200
    assert response.json()["output"]["text"]
