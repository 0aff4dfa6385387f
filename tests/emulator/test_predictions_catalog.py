"""The emulator's models, versions, collections, hardware and trainings."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from dashscope_core.emulator import Emulator, ServerHandle
from dashscope_core.emulator.prediction_schema import resolve
from dashscope_core.emulator.predictions import settings

BUILTINS = ["hello-world", "image-maker", "streaming-lm", "slow-counter", "always-fails"]


def schema_of(client: httpx.Client, name: str) -> dict[str, Any]:
    model = client.get(f"/models/emulator/{name}").json()
    schema: dict[str, Any] = model["latest_version"]["openapi_schema"]
    return schema


def test_builtin_models_have_versions_and_metadata(client: httpx.Client) -> None:
    for name in BUILTINS:
        model = client.get(f"/models/emulator/{name}").json()
        assert model["owner"] == "emulator" and model["name"] == name
        assert model["visibility"] == "public" and model["description"]
        assert model["run_count"] == 0 and model["url"].endswith(f"/models/emulator/{name}")
        version = model["latest_version"]
        assert re.fullmatch(r"[0-9a-f]{64}", version["id"]) and version["cog_version"]
        assert version["created_at"].endswith("Z")


def test_image_model_schema_is_cog_shaped(client: httpx.Client) -> None:
    doc = schema_of(client, "image-maker")
    schemas = doc["components"]["schemas"]
    props = schemas["Input"]["properties"]
    assert schemas["Input"]["required"] == ["prompt"]
    assert [p["x-order"] for p in props.values()] == list(range(len(props)))
    assert props["scheduler"]["allOf"] == [{"$ref": "#/components/schemas/scheduler"}]
    assert props["scheduler"]["default"] == "K_EULER"
    assert "K_EULER" in resolve(doc, props["scheduler"])["enum"]
    assert schemas["scheduler"]["type"] == "string" and "enum" in schemas["scheduler"]
    assert props["image"] == {
        "type": "string",
        "title": "Image",
        "format": "uri",
        "x-order": 2,
        "description": "Optional input image for img2img",
    }
    assert (props["width"]["minimum"], props["width"]["maximum"]) == (64, 1024)
    assert schemas["Output"]["items"] == {"type": "string", "format": "uri"}


def test_streaming_model_output_is_an_iterator(client: httpx.Client) -> None:
    output = schema_of(client, "streaming-lm")["components"]["schemas"]["Output"]
    assert output["type"] == "array" and output["items"] == {"type": "string"}
    assert output["x-cog-array-type"] == "iterator"
    assert output["x-cog-array-display"] == "concatenate"


def test_models_list_pages(client: httpx.Client, emu: Emulator) -> None:
    settings(emu).page_size = 2
    names: list[str] = []
    page: dict[str, Any] = client.get("/models").json()
    while True:
        names += [m["name"] for m in page["results"]]
        if not page["next"]:
            break
        page = client.get(page["next"]).json()
    assert set(BUILTINS) <= set(names) and len(names) == len(set(names))


def test_create_model_then_duplicate_and_invalid(client: httpx.Client) -> None:
    body = {
        "owner": "me",
        "name": "my-model",
        "visibility": "private",
        "hardware": "gpu-t4",
        "description": "mine",
        "github_url": "https://example.invalid/x",
    }
    created = client.post("/models", json=body)
    assert created.status_code == 201
    model = created.json()
    assert (model["owner"], model["name"], model["visibility"]) == ("me", "my-model", "private")
    assert model["latest_version"] is None and model["github_url"] == body["github_url"]
    duplicate = client.post("/models", json=body)
    assert duplicate.status_code == 409 and duplicate.json()["status"] == 409
    bad = client.post("/models", json={**body, "name": "other", "hardware": "quantum"})
    assert bad.status_code == 422 and "hardware" in bad.json()["detail"]
    versions = client.get("/models/me/my-model/versions").json()
    assert (versions["previous"], versions["next"], versions["results"]) == (None, None, [])


def test_versions_list_and_get(client: httpx.Client) -> None:
    listed = client.get("/models/emulator/hello-world/versions").json()["results"]
    assert len(listed) == 1
    one = client.get(f"/models/emulator/hello-world/versions/{listed[0]['id']}").json()
    assert one["id"] == listed[0]["id"] and "openapi_schema" in one
    missing = client.get("/models/emulator/hello-world/versions/" + "0" * 64)
    assert missing.status_code == 404


def test_collections_and_hardware(client: httpx.Client) -> None:
    collections = client.get("/collections").json()["results"]
    assert {"name", "slug", "description"} <= set(collections[0])
    one = client.get("/collections/text-to-image").json()
    assert [m["name"] for m in one["models"]] == ["image-maker"]
    assert client.get("/collections/nope").status_code == 404
    hardware = client.get("/hardware").json()
    assert isinstance(hardware, list)
    assert {"name": "CPU", "sku": "cpu"} in hardware
    assert {"name": "Nvidia T4 GPU", "sku": "gpu-t4"} in hardware


def _train(client: httpx.Client, destination: str) -> httpx.Response:
    version = client.get("/models/emulator/hello-world").json()["latest_version"]["id"]
    path = f"/models/emulator/hello-world/versions/{version}/trainings"
    return client.post(path, json={"destination": destination, "input": {"train_data": "x"}})


def test_training_creates_a_version_at_destination(
    client: httpx.Client, emu: Emulator, server: ServerHandle
) -> None:
    settings(emu).time_scale = 0.0
    dest = {"owner": "me", "name": "tuned", "visibility": "private", "hardware": "cpu"}
    assert client.post("/models", json=dest).status_code == 201
    response = _train(client, "me/tuned")
    assert response.status_code == 201
    training = response.json()
    assert training["urls"]["get"] == f"{server.base_url}/trainings/{training['id']}"
    done = client.get(training["urls"]["get"]).json()
    assert done["status"] == "succeeded" and "Training complete" in done["logs"]
    new_version = done["output"]["version"]
    assert done["output"]["weights"].endswith("-weights.tar")
    model = client.get("/models/me/tuned").json()
    assert model["latest_version"]["id"] == new_version
    run = client.post(
        "/predictions",
        json={"version": f"me/tuned:{new_version}", "input": {"text": "t"}},
        headers={"Prefer": "wait"},
    )
    assert run.json()["output"] == "hello t"
    weights = client.get(done["output"]["weights"])
    assert weights.status_code == 200 and weights.headers["content-type"] == "application/x-tar"
    listed = client.get("/trainings").json()["results"]
    assert [t["id"] for t in listed] == [training["id"]]
    assert emu.counters["trainings_created"] == 1


@pytest.mark.parametrize(("destination", "status"), [("me/absent", 404), ("no-slash", 422)])
def test_training_destination_checked_first(
    client: httpx.Client, emu: Emulator, destination: str, status: int
) -> None:
    response = _train(client, destination)
    assert response.status_code == status and response.json()["status"] == status
    assert emu.counters["trainings_created"] == 0


def test_training_cancel(client: httpx.Client, emu: Emulator) -> None:
    settings(emu).time_scale = 100.0
    client.post(
        "/models", json={"owner": "me", "name": "t2", "visibility": "public", "hardware": "cpu"}
    )
    training = _train(client, "me/t2").json()
    canceled = client.post(training["urls"]["cancel"]).json()
    assert canceled["status"] == "canceled" and canceled["output"] is None
    assert client.get("/models/me/t2").json()["latest_version"] is None
    assert client.post("/trainings/nope/cancel").status_code == 404
