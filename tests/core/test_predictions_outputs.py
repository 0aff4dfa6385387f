"""FileOutput: URL outputs are wrapped lazily; the key goes only to the API host."""

from __future__ import annotations

import base64

from _prediction_fakes import BASE, DS, ds, prediction

from dashscope_core import FileOutput

__all__ = ["ds"]

VERSION = "abc123"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
CDN = "https://cdn.example.org/out/1.png"


def test_urls_are_wrapped_and_downloaded_only_when_read(ds: DS) -> None:
    output = {"image": CDN, "files": [f"{BASE}/files/2.png"], "text": "plain", "n": 3}
    ds.api.expect("POST", "/predictions", prediction(status="succeeded", output=output))
    out = ds.run(ds.client.run(f"acme/img:{VERSION}", input={}))
    assert len(ds.api.requests) == 1  # nothing downloaded yet
    assert isinstance(out["image"], FileOutput) and out["image"] == CDN
    assert out["image"].url == CDN and out["text"] == "plain" and out["n"] == 3
    ds.api.expect("GET", CDN, PNG)
    ds.api.expect("GET", f"{BASE}/files/2.png", PNG)
    read = (lambda f: ds.run(f.aread())) if ds.mode == "async" else (lambda f: f.read())
    assert read(out["image"]) == PNG and read(out["files"][0]) == PNG
    foreign, own = ds.api.requests[1], ds.api.requests[2]
    assert "authorization" not in foreign.headers
    assert own.headers["authorization"].startswith("Bearer ")


def test_streaming_download_without_key(ds: DS) -> None:
    ds.api.expect("GET", CDN, chunks=[PNG[:5], PNG[5:]])
    file = FileOutput(CDN, ds.client)
    chunks = ds.collect(file.aiter_bytes() if ds.mode == "async" else file.iter_bytes())
    assert b"".join(chunks) == PNG
    assert "authorization" not in ds.api.requests[0].headers


def test_data_uri_outputs_decode_locally(ds: DS) -> None:
    uri = "data:image/png;base64," + base64.b64encode(PNG).decode()
    file = FileOutput(uri, ds.client)
    assert (ds.run(file.aread()) if ds.mode == "async" else file.read()) == PNG
    assert ds.api.requests == []


def test_use_file_output_false_returns_plain_strings(ds: DS) -> None:
    ds.api.expect("POST", "/predictions", prediction(status="succeeded", output=[CDN]))
    out = ds.run(ds.client.run(f"acme/img:{VERSION}", input={}, use_file_output=False))
    assert out == [CDN] and type(out[0]) is str
