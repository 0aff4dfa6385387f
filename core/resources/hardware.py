"""Hardware options: ``GET /hardware`` answers a bare JSON array (PROTOCOL.md)."""

from __future__ import annotations

from pydantic import TypeAdapter

from dashscope_core._protocol.request import RawResponse, RequestSpec, response_parser
from dashscope_core.resources._base import AsyncNamespace, SyncNamespace
from dashscope_core.types.predictions import Hardware as HardwareOption

__all__ = ["AsyncHardware", "Hardware"]

_LIST = TypeAdapter(list[HardwareOption])


def build_list() -> RequestSpec:
    """GET /hardware."""
    return RequestSpec("GET", "/hardware")


@response_parser
def parse_list(raw: RawResponse) -> list[HardwareOption]:
    """The hardware options (``[{"name": "CPU", "sku": "cpu"}, ...]``)."""
    return _LIST.validate_json(raw.content)


class Hardware(SyncNamespace):
    """Hardware a model can run on."""

    def list(self) -> list[HardwareOption]:
        """Every hardware option (not paginated)."""
        return parse_list(self._client._send(build_list()))


class AsyncHardware(AsyncNamespace):
    """Async twin of ``Hardware``."""

    async def list(self) -> list[HardwareOption]:
        """Every hardware option (not paginated)."""
        return parse_list(await self._client._send(build_list()))
