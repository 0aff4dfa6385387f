"""Data-URI encoding of file inputs: paths, bytes, file objects, MIME, size limit."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from _prediction_fakes import DS, ds, prediction

from dashscope_core._protocol.files import MAX_INLINE_BYTES, encode_input, guess_mime

__all__ = ["ds"]

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 8


def _decode(uri: str) -> tuple[str, bytes]:
    head, _, payload = uri.partition(",")
    return head, base64.b64decode(payload)


def test_path_bytes_and_file_objects(tmp_path: Path) -> None:
    wav = tmp_path / "voice.wav"
    wav.write_bytes(b"RIFF\0\0\0\0WAVEfmt ")
    encoded = encode_input(
        {
            "audio": wav,
            "raw": PNG,
            "doc": io.BytesIO(b"%PDF-1.4"),
            "nested": [{"img": PNG}],
            "prompt": "a cat",
            "skip": None,
        }
    )
    head, data = _decode(encoded["audio"])
    assert head in ("data:audio/wav;base64", "data:audio/x-wav;base64") and data == wav.read_bytes()
    assert _decode(encoded["raw"]) == ("data:image/png;base64", PNG)
    assert _decode(encoded["doc"])[0] == "data:application/pdf;base64"
    assert _decode(encoded["nested"][0]["img"])[0] == "data:image/png;base64"
    assert encoded["prompt"] == "a cat" and "skip" not in encoded


def test_strings_are_never_read_as_files(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("secret")
    assert encode_input({"p": str(path)}) == {"p": str(path)}


@pytest.mark.parametrize(
    ("data", "name", "mime"),
    [
        (b"\xff\xd8\xff\xe0", None, "image/jpeg"),
        (b"GIF89a", None, "image/gif"),
        (b"ID3\x03", None, "audio/mpeg"),
        (b"RIFF\0\0\0\0WAVE", None, "audio/wav"),
        (b"\x00\x01", None, "application/octet-stream"),
        (b"\x00", "notes.txt", "text/plain"),
    ],
)
def test_guess_mime(data: bytes, name: str | None, mime: str) -> None:
    assert guess_mime(data, name) == mime


def test_too_large_inputs_name_the_field(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (MAX_INLINE_BYTES + 1))
    with pytest.raises(ValueError, match=r"input\['clip'\].*10 MB"):
        encode_input({"clip": big})
    with pytest.raises(ValueError, match=r"input\['frames'\]\[1\]"):
        encode_input({"frames": [b"", b"\0" * (MAX_INLINE_BYTES + 1)]})
    with pytest.raises(ValueError, match=r"input\['f'\]"):
        encode_input({"f": io.BytesIO(b"\0" * (MAX_INLINE_BYTES + 1))})
    assert encode_input({"ok": b"\0" * MAX_INLINE_BYTES})["ok"].startswith("data:")


def test_missing_path_and_text_file_objects(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no such file"):
        encode_input({"img": tmp_path / "missing.png"})
    with pytest.raises(TypeError, match="binary mode"):
        encode_input({"doc": io.StringIO("text")})


def test_run_sends_data_uris_and_fails_before_sending_big_files(ds: DS, tmp_path: Path) -> None:
    img = tmp_path / "cat.png"
    img.write_bytes(PNG)
    ds.api.expect("POST", "/predictions", prediction(status="succeeded"))
    ds.run(ds.client.run("acme/img:abc", input={"image": img}))
    assert ds.api.json(0)["input"]["image"].startswith("data:image/png;base64,")
    with pytest.raises(ValueError, match="image"):
        ds.run(ds.client.run("acme/img:abc", input={"image": b"\0" * (MAX_INLINE_BYTES + 1)}))
    assert len(ds.api.requests) == 1
    with pytest.raises(TypeError, match="input"):
        ds.run(ds.client.run("acme/img:abc", input=["not", "a", "mapping"]))
