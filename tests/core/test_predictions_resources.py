"""models, versions, collections, hardware, trainings, deployments: paths, bodies, parsing."""

from __future__ import annotations

import pytest
from _prediction_fakes import DS, ds, prediction

from dashscope_core import Hardware, Model, Training, Version
from dashscope_core.errors import InternalServerError, PredictionFailedError

__all__ = ["ds"]

SCHEMA = {
    "components": {
        "schemas": {
            "Input": {"type": "object", "properties": {"prompt": {"type": "string", "x-order": 0}}}
        }
    }
}


def test_models_get_list_create(ds: DS) -> None:
    model = {
        "owner": "acme",
        "name": "hello",
        "visibility": "public",
        "latest_version": {"id": "v1", "openapi_schema": SCHEMA},
    }
    ds.api.expect("GET", "/models/acme/hello", model)
    ds.api.expect("GET", "/models", {"previous": None, "next": None, "results": [model]})
    ds.api.expect("POST", "/models", model, status=201)
    got = ds.run(ds.client.models.get("acme", "hello"))
    assert isinstance(got, Model) and got.latest_version is not None
    assert got.latest_version.openapi_schema == SCHEMA
    assert ds.run(ds.client.models.list()).results[0].name == "hello"
    ds.run(
        ds.client.models.create(
            "acme", "hello", visibility="private", hardware="cpu", description="hi", paper_url=None
        )
    )
    assert ds.api.json(2) == {
        "owner": "acme",
        "name": "hello",
        "visibility": "private",
        "hardware": "cpu",
        "description": "hi",
    }


def test_models_create_validates_and_is_not_replayed(ds: DS) -> None:
    with pytest.raises(ValueError, match="visibility"):
        ds.run(ds.client.models.create("acme", "x", visibility="secret", hardware="cpu"))
    with pytest.raises(ValueError, match="owner"):
        ds.run(ds.client.models.get("", "x"))
    ds.api.expect("POST", "/models", {"detail": "oops"}, status=502)
    with pytest.raises(InternalServerError):
        ds.run(ds.client.models.create("acme", "x", visibility="public", hardware="cpu"))
    assert len(ds.api.requests) == 1


def test_versions(ds: DS) -> None:
    ds.api.expect(
        "GET",
        "/models/acme/hello/versions",
        {"previous": None, "next": None, "results": [{"id": "v2"}, {"id": "v1"}]},
    )
    ds.api.expect("GET", "/models/acme/hello/versions/v1", {"id": "v1", "cog_version": "0.9"})
    assert [v.id for v in ds.run(ds.client.models.versions.list("acme", "hello"))] == ["v2", "v1"]
    version = ds.run(ds.client.models.versions.get("acme", "hello", "v1"))
    assert isinstance(version, Version) and version.cog_version == "0.9"


def test_collections_and_hardware(ds: DS) -> None:
    ds.api.expect(
        "GET",
        "/collections/text-to-image",
        {"slug": "text-to-image", "models": [{"owner": "acme", "name": "img"}]},
    )
    ds.api.expect("GET", "/collections", {"previous": None, "next": None, "results": []})
    ds.api.expect(
        "GET", "/hardware", [{"name": "CPU", "sku": "cpu"}, {"name": "GPU", "sku": "gpu"}]
    )
    coll = ds.run(ds.client.collections.get("text-to-image"))
    assert coll.models is not None and coll.models[0].name == "img"
    assert ds.run(ds.client.collections.list()).results == []
    hardware = ds.run(ds.client.hardware.list())
    assert [h.sku for h in hardware] == ["cpu", "gpu"] and isinstance(hardware[0], Hardware)


def test_trainings(ds: DS) -> None:
    training = {**prediction("t1"), "destination": "me/tuned"}
    ds.api.expect("POST", "/models/acme/hello/versions/v1/trainings", training, status=201)
    ds.api.expect("GET", "/trainings/t1", {**training, "status": "processing"})
    ds.api.expect("POST", "/trainings/t1/cancel", {**training, "status": "canceled"})
    created = ds.run(
        ds.client.trainings.create(
            "acme",
            "hello",
            "v1",
            destination="me/tuned",
            input={"epochs": 2},
            webhook="https://example.com/h",
        )
    )
    assert isinstance(created, Training) and created.destination == "me/tuned"
    assert ds.api.json(0) == {
        "destination": "me/tuned",
        "input": {"epochs": 2},
        "webhook": "https://example.com/h",
    }
    assert ds.run(ds.client.trainings.get("t1")).status == "processing"
    assert ds.run(ds.client.trainings.cancel("t1")).status == "canceled"


def test_training_destination_is_validated(ds: DS) -> None:
    for bad in ["tuned", "me/tuned:v2", ""]:
        with pytest.raises(ValueError, match="destination"):
            ds.run(ds.client.trainings.create("acme", "hello", "v1", destination=bad, input={}))


def test_training_wait_failed(ds: DS) -> None:
    ds.api.expect("GET", "/trainings/t1", {**prediction("t1"), "status": "failed", "error": "nan"})
    with pytest.raises(PredictionFailedError, match="training t1 failed: nan"):
        ds.run(ds.client.trainings.wait("t1"))


def test_deployment_predictions(ds: DS) -> None:
    ds.api.expect("POST", "/deployments/acme/prod/predictions", prediction(), status=201)
    created = ds.run(
        ds.client.deployments.predictions.create("acme", "prod", input={"a": 1}, wait=10)
    )
    assert created.id == "p1"
    assert ds.api.json(0) == {"input": {"a": 1}}
    assert ds.api.requests[0].headers["prefer"] == "wait=10"


def test_request_low_level(ds: DS) -> None:
    ds.api.expect("GET", "/hardware", [{"sku": "cpu"}])
    assert ds.run(ds.client.request("GET", "/hardware")) == [{"sku": "cpu"}]
