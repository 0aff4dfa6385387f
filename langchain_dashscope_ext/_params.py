"""Generation parameters shared by ``ChatDashScope`` and ``DashScopeLLM``.

Both classes send their set fields (``PARAMS``), ``stop`` and ``model_kwargs`` as DashScope
``parameters``, take unknown constructor kwargs into ``model_kwargs`` with a warning, and
serialise without the key. ChatOpenAI's ``max_completion_tokens`` is an alias of ``max_tokens``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from langchain_core.utils.utils import _build_model_kwargs, get_pydantic_field_names
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

__all__ = ["DashScopeParams", "Stop", "build_extra"]

Stop = str | list[str] | list[int] | list[list[int]]
"""``stop``: a string, strings, or token ids (``[[37763, 367]]`` in the recorded requests)."""


def build_extra(cls: type[BaseModel], values: Any) -> Any:
    """Move unknown constructor kwargs into ``model_kwargs`` with a warning (as ChatOpenAI).

    Names a field accepts through ``AliasChoices`` (``model_name``, ``stop_sequences``) are
    known names: validation aliases keep ``model=`` the typed constructor argument. Inside
    ``model_kwargs`` they stay what that dict is for, raw wire parameters.
    """
    if not isinstance(values, dict):
        return values
    names = get_pydantic_field_names(cls)
    aliases: set[str] = set()
    for field in cls.model_fields.values():
        if isinstance(field.validation_alias, AliasChoices):
            aliases.update(c for c in field.validation_alias.choices if isinstance(c, str))
    aliases -= names
    # an alias inside model_kwargs stays a raw wire parameter (DashScope itself takes
    # max_completion_tokens: recorded single-generation-message-sse)
    raw = {k: v for k, v in (values.get("model_kwargs") or {}).items() if k in aliases}
    values = _build_model_kwargs(values, names | aliases)
    for name, value in raw.items():
        values.pop(name, None)
        values["model_kwargs"][name] = value
    return values


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
    max_tokens: int | None = Field(
        default=None, ge=1, validation_alias=AliasChoices("max_tokens", "max_completion_tokens")
    )
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
