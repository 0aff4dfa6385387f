"""Generation parameters shared by ``ChatDashScope`` and ``DashScopeLLM``.

Both classes send their set fields (``PARAMS``), ``stop`` and ``model_kwargs`` as DashScope
``parameters``, take unknown constructor kwargs into ``model_kwargs`` with a warning, and
serialise without the key. Client options are fixed per instance: passed per call they would
be sent to the server as generation parameters and not honoured, so they raise instead.
"""

from __future__ import annotations

from typing import Any, ClassVar

from langchain_core.utils.utils import _build_model_kwargs, get_pydantic_field_names
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

__all__ = ["CLIENT_OPTIONS", "DashScopeParams", "Stop", "build_extra", "check_call_kwargs"]

Stop = str | list[str] | list[int] | list[list[int]]
"""``stop``: a string, strings, or token ids (``[[37763, 367]]`` in the recorded requests)."""

CLIENT_OPTIONS = ("timeout", "max_retries", "api_key", "base_url", "region", "workspace")


def build_extra(cls: type[BaseModel], values: Any) -> Any:
    """Move unknown constructor kwargs into ``model_kwargs`` with a warning (as ChatOpenAI).

    Names a field accepts through ``AliasChoices`` (``model_name``, ``stop_sequences``) are
    known names: validation aliases keep ``model=`` the typed constructor argument.
    """
    if not isinstance(values, dict):
        return values
    names = get_pydantic_field_names(cls)
    for field in cls.model_fields.values():
        if isinstance(field.validation_alias, AliasChoices):
            names.update(c for c in field.validation_alias.choices if isinstance(c, str))
    return _build_model_kwargs(values, names)


def check_call_kwargs(kwargs: dict[str, Any]) -> None:
    """Raise for a client option passed per call (``invoke(..., timeout=5)``), before any I/O."""
    for name in CLIENT_OPTIONS:
        if name in kwargs:
            raise ValueError(
                f"{name}: a client option, set it on the model (e.g. "
                f"model.model_copy(update={{{name!r}: ...}})); per-call values are not supported"
            )


class DashScopeParams(BaseModel):
    """Mixin: the generation parameters a model sends and how it serialises."""

    model_config = ConfigDict(populate_by_name=True)
    PARAMS: ClassVar[tuple[str, ...]] = ()
    """Field names sent as DashScope ``parameters`` when set."""

    model: str = Field(default="qwen-plus", validation_alias=AliasChoices("model", "model_name"))
    """Model name, e.g. ``qwen-plus``, ``qwen-max``, ``qwen3-max``, ``qwen-vl-max``."""
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    seed: int | None = None
    repetition_penalty: float | None = None
    presence_penalty: float | None = None
    enable_search: bool | None = None

    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Any other ``parameters`` to send (e.g. ``response_format``, ``incremental_output``)."""

    @model_validator(mode="before")
    @classmethod
    def _build_extra(cls, values: Any) -> Any:
        return build_extra(cls, values)

    @classmethod
    def is_lc_serializable(cls) -> bool:
        """Round-trips through ``dumpd``/``load`` (the key stays a secret)."""
        return True

    @property
    def _default_params(self) -> dict[str, Any]:
        params = {name: value for name in self.PARAMS if (value := getattr(self, name)) is not None}
        stop = getattr(self, "stop", None)
        if stop:
            params["stop"] = stop
        return {**params, **self.model_kwargs}

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": self.model, **self._default_params}
