"""Deployments: ``deployments.predictions.create(owner, name, input=...)`` (PROTOCOL.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dashscope_core._protocol.identifiers import check_segment
from dashscope_core._protocol.request import RequestSpec
from dashscope_core.resources._base import AsyncNamespace, SyncNamespace
from dashscope_core.resources.predictions import build_create, parse_prediction
from dashscope_core.types.predictions import Prediction

__all__ = ["AsyncDeploymentPredictions", "AsyncDeployments", "DeploymentPredictions", "Deployments"]


def build_deployment_create(
    owner: str, name: str, input: Mapping[str, Any] | None, **options: Any
) -> RequestSpec:
    """POST /deployments/{owner}/{name}/predictions."""
    deployment = f"{check_segment(owner, argument='owner')}/{check_segment(name, argument='name')}"
    return build_create(deployment=deployment, input=input, **options)


class DeploymentPredictions(SyncNamespace):
    """Predictions on a deployment."""

    def create(
        self, owner: str, name: str, input: Mapping[str, Any] | None = None, **options: Any
    ) -> Prediction:
        """Create (``webhook=``, ``webhook_events_filter=``, ``stream=``, ``wait=``)."""
        spec = build_deployment_create(owner, name, input, **options)
        return parse_prediction(self._client._send(spec))


class AsyncDeploymentPredictions(AsyncNamespace):
    """Async twin of ``DeploymentPredictions``."""

    async def create(
        self, owner: str, name: str, input: Mapping[str, Any] | None = None, **options: Any
    ) -> Prediction:
        """Create (``webhook=``, ``webhook_events_filter=``, ``stream=``, ``wait=``)."""
        spec = build_deployment_create(owner, name, input, **options)
        return parse_prediction(await self._client._send(spec))


class Deployments(SyncNamespace):
    """Deployments of models."""

    @property
    def predictions(self) -> DeploymentPredictions:
        """Predictions on a deployment."""
        return DeploymentPredictions(self._client)


class AsyncDeployments(AsyncNamespace):
    """Async twin of ``Deployments``."""

    @property
    def predictions(self) -> AsyncDeploymentPredictions:
        """Predictions on a deployment."""
        return AsyncDeploymentPredictions(self._client)
