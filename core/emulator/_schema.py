"""JSON-schema instances and tool calls built from the user's words.

Rules of this module:
- ``Hints`` pulls candidate values out of the user text: quoted strings, then capitalised
  phrases ("New York"), and numbers; each string/number property consumes the next candidate,
  so two properties get two different values.
- ``instance()`` returns a value valid for the schema: objects (``$ref``/``$defs``, nested),
  arrays (``minItems``), enums (one mentioned in the text, else the first), ``const``,
  ``anyOf``/``oneOf`` (first non-null), numbers clamped to ``minimum``/``maximum``.
- Tool calls fill required properties, and the optional ones a model would fill: an enum value
  mentioned in the text, or the property's name mentioned with a value left for it.
- Tool choice "auto" calls the tools whose name words or description words appear in the text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from dashscope_core.emulator._text import stable_hash

__all__ = ["Hints", "build_tool_call", "instance", "select_tools", "tool_words"]

_QUOTED = re.compile(r"\"([^\"]+)\"|(?:(?<=\s)|^)'([^']+)'|“([^”]+)”|「([^」]+)」")
_CAPITALISED = re.compile(r"\b[A-Z][\w-]*(?:\s+[A-Z][\w-]*)*")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?!\w|\.\d)")
_EXAMPLE = re.compile(
    r"(?:例如|比如|e\.g\.|for example|such as)[\s,:：]*([^\s,，。.;；)）]+)", re.I
)
_STOP_TEXT = (
    "a an and are at call can could do does find for from get give hello hi how i in is it "
    "me my of on please show tell the this to use what when where which who why with you "
    "current info data tool function run make value"
)
_STOP_WORDS = frozenset(_STOP_TEXT.split())
# Common words that are capitalised only because they open a sentence ("... in Paris? Also add
# 2 and 3."): never a value, so dropped from the front of a capitalised phrase.
_STARTERS = (
    "also then and but or so now next finally first second third lastly additionally plus "
    "however meanwhile afterwards after before thanks thank ok okay yes no hey hmm oh well sure "
    "would should let lets just there here if as by about both each every some any all our "
    "your their his her they we he she them us that these those not kindly are was were did "
    "have has"
)
_LEADING_SKIP = _STOP_WORDS | frozenset(_STARTERS.split())
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")


@dataclass
class Hints:
    """Candidate values found in the user text, consumed in order."""

    text: str
    strings: list[str] = field(default_factory=list)
    numbers: list[float] = field(default_factory=list)

    @classmethod
    def from_text(cls, text: str, ignore: frozenset[str] = frozenset()) -> Hints:
        """Extract quoted strings, capitalised phrases and numbers from ``text``.

        Leading words of a capitalised phrase that are stop words, common sentence openers
        ("Also", "Then") or in ``ignore`` (e.g. the words of the tool names: "Weather in
        Paris") are dropped.
        """
        strings = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(text)]
        for phrase in _CAPITALISED.findall(text):
            words = phrase.split()
            while words and (words[0].lower() in _LEADING_SKIP or words[0].lower() in ignore):
                words.pop(0)
            if words and " ".join(words) not in strings:
                strings.append(" ".join(words))
        numbers = [float(n) for n in _NUMBER.findall(text)]
        return cls(text, strings, numbers)


def instance(
    schema: Any, hints: Hints, name: str = "", *, root: Any = None, all_props: bool = True
) -> Any:
    """A value valid for ``schema``, filled from ``hints`` where possible."""
    root = schema if root is None else root
    if not isinstance(schema, dict):
        return hints.strings.pop(0) if hints.strings else f"sample {name}".strip()
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return _pick_enum(schema["enum"], hints.text)
    for key in ("anyOf", "oneOf", "allOf"):
        options = [o for o in schema.get(key) or [] if _type_of(_resolve(o, root)) != "null"]
        if options:
            return instance(options[0], hints, name, root=root, all_props=all_props)
    kind = _type_of(schema)
    if kind == "object":
        return _object(schema, hints, root, all_props)
    if kind == "array":
        count = max(int(schema.get("minItems", 1)), 1)
        items = schema.get("items", {"type": "string"})
        return [instance(items, hints, name, root=root, all_props=all_props) for _ in range(count)]
    if kind in ("integer", "number"):
        return _number(schema, hints, kind)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string(schema, hints, name)


def _resolve(schema: dict[str, Any], root: Any) -> dict[str, Any]:
    for _ in range(20):
        ref = schema.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return schema
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        schema = {**{k: v for k, v in schema.items() if k != "$ref"}, **target}
    return schema


def _type_of(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if isinstance(kind, str):
        return kind
    return "object" if "properties" in schema else "string"


def _object(schema: dict[str, Any], hints: Hints, root: Any, all_props: bool) -> dict[str, Any]:
    props = schema.get("properties") or {}
    required = schema.get("required") or []
    names = [n for n in props if all_props or n in required]
    names += [n for n in props if n not in names and _mentioned(n, props[n], root, hints)]
    return {n: instance(props[n], hints, n, root=root, all_props=all_props) for n in names}


def _mentioned(name: str, schema: Any, root: Any, hints: Hints) -> bool:
    """Whether a model would fill the optional property ``name``: the text names one of its
    enum values, or names the property while a value for it is left in the text."""
    lowered = hints.text.lower()
    resolved = _resolve(schema, root) if isinstance(schema, dict) else {}
    options = resolved.get("enum")
    if isinstance(options, list) and any(
        isinstance(o, str) and o.lower() in lowered for o in options
    ):
        return True
    kind = _type_of(resolved) if resolved else "string"
    left = hints.numbers if kind in ("integer", "number") else hints.strings
    return bool(left) and any(w in lowered for w in _words(name))


def _pick_enum(options: list[Any], text: str) -> Any:
    lowered = text.lower()
    for option in options:
        if isinstance(option, str) and option.lower() in lowered:
            return option
    return options[0]


def _number(schema: dict[str, Any], hints: Hints, kind: str) -> int | float:
    value = hints.numbers.pop(0) if hints.numbers else float(schema.get("minimum", 1))
    if "maximum" in schema:
        value = min(value, float(schema["maximum"]))
    if "minimum" in schema:
        value = max(value, float(schema["minimum"]))
    return int(value) if kind == "integer" else value


def _string(schema: dict[str, Any], hints: Hints, name: str) -> str:
    example = _EXAMPLE.search(str(schema.get("description", "")))
    if hints.strings:
        return hints.strings.pop(0)
    if example:
        return example[1]
    formats = {
        "date": "2024-01-01",
        "date-time": "2024-01-01T00:00:00Z",
        "email": "user@example.com",
        "uri": "https://example.com",
    }
    if schema.get("format") in formats:
        return formats[str(schema["format"])]
    return f"sample {name}".strip() if name else "sample"


def _words(text: str) -> set[str]:
    parts = re.sub(r"([a-z])([A-Z])", r"\1 \2", text).replace("_", " ").replace("-", " ")
    return {w for w in re.findall(r"[a-z]{3,}", parts.lower()) if w not in _STOP_WORDS}


def _bigrams(text: str) -> set[str]:
    return {run[i : i + 2] for run in _CJK_RUN.findall(text) for i in range(len(run) - 1)}


def _score(tool: dict[str, Any], text: str) -> int:
    fn = tool.get("function") or {}
    name, description = str(fn.get("name", "")), str(fn.get("description", ""))
    lowered = text.lower()
    if name and name.lower() in lowered:
        return 100
    name_hits = sum(1 for w in _words(name) if w[: max(4, len(w) - 2)] in lowered)
    desc_hits = len(_words(description) & _words(text)) + len(
        _bigrams(description) & _bigrams(text)
    )
    return 10 * name_hits + desc_hits if name_hits or desc_hits >= 2 else 0


def _mention(tool: dict[str, Any], lowered: str) -> int:
    words = _words(str((tool.get("function") or {}).get("name", "")))
    found = [lowered.find(w[: max(4, len(w) - 2)]) for w in words]
    return min([i for i in found if i >= 0], default=len(lowered))


def select_tools(tools: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """The tools "auto" calls for ``text``, in the order the text mentions them."""
    lowered = text.lower()
    scored = [(_mention(t, lowered), -_score(t, text), i, t) for i, t in enumerate(tools)]
    return [t for _, s, _, t in sorted(scored, key=lambda x: x[:3]) if s < 0]


def tool_words(tools: list[dict[str, Any]]) -> frozenset[str]:
    """Lower-cased words of the tools' names and descriptions."""
    words: set[str] = set()
    for tool in tools:
        fn = tool.get("function") or {}
        words |= _words(f"{fn.get('name', '')} {fn.get('description', '')}")
    return frozenset(words)


def build_tool_call(tool: dict[str, Any], hints: Hints, index: int, key: int) -> dict[str, Any]:
    """A DashScope tool call with arguments built from the tool's JSON schema."""
    fn = tool.get("function") or {}
    params = fn.get("parameters") or {"type": "object", "properties": {}}
    args = instance(params, hints, root=params, all_props=False)
    call_id = "call_" + f"{stable_hash(fn.get('name'), index, key):016x}{index:06x}"
    return {
        "index": index,
        "id": call_id,
        "type": "function",
        "function": {"name": fn.get("name", ""), "arguments": json.dumps(args, ensure_ascii=False)},
    }
