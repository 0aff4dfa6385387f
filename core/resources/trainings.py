"""Trainings: create a new version of ``destination`` from a base version (PROTOCOL.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dashscope_core._protocol.identifiers import check_segment, parse_owner_name
from dashscope_core._protocol.polling import TRAININGS, PollJob, check_poll_args
from dashscope_core._protocol.request import RawResponse, RequestSpec, response_parser
from dashscope_core.resources._base import AsyncNamespace, SyncNamespace
from dashscope_core.resources._drivers import poll_async, poll_sync
from dashscope_core.resources.predictions import build_body, build_list, poll_id
from dashscope_core.types.predictions import Page, Training

__all__ = ["AsyncTrainings", "Trainings"]


def build_create(
    owner: str,
    name: str,
    version: str,
    *,
    destination: str,
    input: Mapping[str, Any] | None = None,
    webhook: str | None = None,
    webhook_events_filter: Sequence[str] | None = None,
) -> RequestSpec:
    """POST /models/{owner}/{name}/versions/{version}/trainings (never replayed on 5xx)."""
    parts = [
        check_segment(v, argument=a)
        for v, a in ((owner, "owner"), (name, "name"), (version, "version"))
    ]
    parse_owner_name(destination, argument="destination")
    body = build_body(
        input, webhook=webhook, webhook_events_filter=webhook_events_filter, destination=destination
    )
    path = "/models/{}/{}/versions/{}/trainings".format(*parts)
    return RequestSpec("POST", path, json=body, replay_safe=False)


def build_get(training_id: str) -> RequestSpec:
    """GET /trainings/{id}."""
    return RequestSpec("GET", f"/trainings/{check_segment(training_id, argument='id')}")


def build_cancel(training_id: str) -> RequestSpec:
    """POST /trainings/{id}/cancel."""
    tid = check_segment(training_id, argument="id")
    return RequestSpec("POST", f"/trainings/{tid}/cancel", replay_safe=False)


@response_parser
def parse_training(raw: RawResponse) -> Training:
    """A Training."""
    return Training.model_validate_json(raw.content)


@response_parser
def parse_page(raw: RawResponse) -> Page[Training]:
    """A page of trainings."""
    return Page[Training].model_validate_json(raw.content)


def wait_job(
    training: Training | str,
    interval: float = 0.5,
    timeout: float | None = None,
    progress: Any = None,
) -> tuple[PollJob[Training], Training]:
    """The poll job for a training (same policy as predictions)."""
    check_poll_args(interval, timeout, progress)
    if isinstance(training, str):
        training = Training(id=training, status="starting")
    job = PollJob(
        TRAININGS,
        build_get(poll_id(training)),
        build_cancel(poll_id(training)),
        parse_training,
        lambda raw, _: parse_training(raw),
        interval,
        timeout,
        progress,
    )
    return job, training


class Trainings(SyncNamespace):
    """Create, inspect, cancel, list and wait for trainings."""

    def create(self, owner: str, name: str, version: str, **options: Any) -> Training:
        """Start a training (``destination=``, ``input=``, ``webhook=``, ...)."""
        return parse_training(self._client._send(build_create(owner, name, version, **options)))

    def get(self, id: str) -> Training:
        """Fetch a training."""
        return parse_training(self._client._send(build_get(id)))

    def cancel(self, id: str) -> Training:
        """Cancel a training."""
        return parse_training(self._client._send(build_cancel(id)))

    def list(self, cursor: str | None = None) -> Page[Training]:
        """One page of trainings."""
        return parse_page(self._client._send(build_list("/trainings", cursor)))

    def wait(
        self,
        training: Training | str,
        interval: float = 0.5,
        progress: Any = None,
        timeout: float | None = None,
        cancel: Any = None,
    ) -> Training:
        """Poll until the training finishes (raises like ``predictions.wait``)."""
        return poll_sync(self._client, *wait_job(training, interval, timeout, progress), cancel)


class AsyncTrainings(AsyncNamespace):
    """Async twin of ``Trainings``."""

    async def create(self, owner: str, name: str, version: str, **options: Any) -> Training:
        """Start a training (``destination=``, ``input=``, ``webhook=``, ...)."""
        spec = build_create(owner, name, version, **options)
        return parse_training(await self._client._send(spec))

    async def get(self, id: str) -> Training:
        """Fetch a training."""
        return parse_training(await self._client._send(build_get(id)))

    async def cancel(self, id: str) -> Training:
        """Cancel a training."""
        return parse_training(await self._client._send(build_cancel(id)))

    async def list(self, cursor: str | None = None) -> Page[Training]:
        """One page of trainings."""
        return parse_page(await self._client._send(build_list("/trainings", cursor)))

    async def wait(
        self,
        training: Training | str,
        interval: float = 0.5,
        progress: Any = None,
        timeout: float | None = None,
        cancel: Any = None,
    ) -> Training:
        """Poll until the training finishes (raises like ``predictions.wait``)."""
        job, start = wait_job(training, interval, timeout, progress)
        return await poll_async(self._client, job, start, cancel)
