"""The model profile table: every entry names its source.

Sources, cited per entry by key:
- [list] Model Studio model list, help.aliyun.com/zh/model-studio/models (context window,
  max output, max chain-of-thought), as mirrored by models.dev ``providers/alibaba-cn`` and
  ``providers/alibaba`` (reviewed, July 2026).
- [think] "Deep thinking" guide, help.aliyun.com/zh/model-studio/deep-thinking: hybrid models
  (``enable_thinking``) and thinking-only models; "most models only support streaming output".
- [ds] / [kimi] / [glm]: the DeepSeek, Kimi and GLM pages of Model Studio (hosted models).
- [embed] / [rerank] / [wan]: the text-embedding, rerank and Wan/Wanx synthesis API references.
- [rec:NAME]: a recorded production exchange (cnblogs/dashscope-sdk ``RawHttpData``; the ones
  in ``tests/fixtures/recorded`` are copied there).
- PROTOCOL.md "Wave 2 facts" for the per-model thinking rules (non-streaming refusals).

Keys are lower-case names or ``fnmatch`` globs (snapshots: ``qwen-plus-2025-*``).
"""

from __future__ import annotations

from typing import Any

from dashscope_core.profiles import ModelProfile

__all__ = ["PROFILES"]

_K = 1024
PROFILES: dict[str, ModelProfile] = {}


def _add(names: str, source: str, **fields: Any) -> None:
    for name in names.split():
        PROFILES[name] = ModelProfile(model=name, source=source, **fields)


# -- families (shared values; each entry below still names its own source) ------------------

_TOOLS = {"tool_calling": True, "forced_tool_choice": True}
_JSON = {"json_object": True, "json_schema": True}
_CHAT = {**_TOOLS, **_JSON}
_COMMERCIAL = {**_CHAT, "search": True, "explicit_cache": True, "batch": True}
# Qwen3.5 and later commercial models: multimodal-generation, thinking on by default, and a
# non-streaming thinking call is answered (rec:multimodal-generation-with-websearch-nosse,
# qwen3.6-plus; PROTOCOL.md), Model Studio says "url error" on text-generation [think].
_QWEN35 = {**_COMMERCIAL, "endpoint": "multimodal", "thinking": "on_by_default",
           "non_streaming_thinking": True, "image_inputs": True, "video_inputs": True}  # fmt: skip
_HYBRID = {"thinking": "off_by_default"}  # refuse non-streaming thinking calls (PROTOCOL.md)
_VL = {"endpoint": "multimodal", "image_inputs": True, "video_inputs": True}
_OMNI = {"endpoint": "multimodal", "stream_only": True, "image_inputs": True,
         "video_inputs": True, "audio_inputs": True, "audio_outputs": True}  # fmt: skip

# -- Qwen3.5+ commercial flagships (multimodal endpoint) ------------------------------------

_add(
    "qwen3.5-plus qwen3.5-plus-*",
    "[list] 1,000,000 / 65,536, CoT 81,920; [think]",
    context_window=1_000_000,
    max_output_tokens=64 * _K,
    max_thinking_budget=81_920,
    **_QWEN35,
)
_add(
    "qwen3.5-flash qwen3.5-flash-*",
    "[list] 1,000,000 / 65,536, CoT 81,920; [think]",
    context_window=1_000_000,
    max_output_tokens=64 * _K,
    max_thinking_budget=81_920,
    **_QWEN35,
)
_add(
    "qwen3.6-plus qwen3.6-plus-*",
    "[list] 1,000,000 / 65,536, CoT 81,920; [rec:multimodal-generation-with-websearch-nosse] "
    "[rec:multimodal-generation-message-with-tools-sse]",
    context_window=1_000_000,
    max_output_tokens=64 * _K,
    max_thinking_budget=81_920,
    **_QWEN35,
)
_add(
    "qwen3.6-flash qwen3.6-flash-*",
    "[list] 1,000,000 / 65,536, CoT 131,072",
    context_window=1_000_000,
    max_output_tokens=64 * _K,
    max_thinking_budget=131_072,
    **_QWEN35,
)
_add(
    "qwen3.7-plus qwen3.7-plus-*",
    "[list] 1,000,000 / 65,536, CoT 262,144",
    context_window=1_000_000,
    max_output_tokens=64 * _K,
    max_thinking_budget=262_144,
    **_QWEN35,
)
_add(
    "qwen3.5-397b-a17b qwen3.5-122b-a10b qwen3.5-35b-a3b qwen3.5-27b qwen3.6-27b qwen3.6-35b-a3b",
    "[list] open Qwen3.5/3.6: 262,144 / 65,536, CoT 81,920; [think]",
    context_window=256 * _K,
    max_output_tokens=64 * _K,
    max_thinking_budget=81_920,
    **{**_QWEN35, "non_streaming_thinking": False, "batch": False, "explicit_cache": False},
)

# -- Qwen commercial text models ---------------------------------------------------------------

_add(
    "qwen3-max qwen3-max-*",
    "[list] 262,144 / 65,536; thinking: "
    "[rec:single-generation-message-with-code-interpreter-sse] (qwen3-max-preview)",
    context_window=256 * _K,
    max_output_tokens=64 * _K,
    max_thinking_budget=81_920,
    **_COMMERCIAL,
    **_HYBRID,
)
_add(
    "qwen-max qwen-max-latest qwen-max-2025-* qwen-max-2024-*",
    "[list] 32,768 / 8,192 (Qwen2.5-Max); [rec:single-generation-message-*] (qwen-max)",
    context_window=32 * _K,
    max_output_tokens=8 * _K,
    **_COMMERCIAL,
)
_add(
    "qwen-plus qwen-plus-latest qwen-plus-2025-* qwen-plus-2024-*",
    "[list] 1,000,000 / 32,768, CoT 81,920; [think] hybrid, off by default; "
    "[rec:single-generation-message-reasoning-sse] (qwen-plus-latest)",
    context_window=1_000_000,
    max_output_tokens=32 * _K,
    max_thinking_budget=81_920,
    **_COMMERCIAL,
    **_HYBRID,
)
_add(
    "qwen-flash qwen-flash-*",
    "[list] 1,000,000 / 32,768, CoT 81,920; [think]",
    context_window=1_000_000,
    max_output_tokens=32 * _K,
    max_thinking_budget=81_920,
    **_COMMERCIAL,
    **_HYBRID,
)
_add(
    "qwen-turbo qwen-turbo-latest qwen-turbo-2025-* qwen-turbo-2024-*",
    "[list] 1,000,000 / 16,384, CoT 38,912; [think]",
    context_window=1_000_000,
    max_output_tokens=16 * _K,
    max_thinking_budget=38_912,
    **_COMMERCIAL,
    **_HYBRID,
)
_add(
    "qwen-long qwen-long-latest qwen-long-2025-*",
    "[list] 10,000,000 / 8,192; [rec:conversation-generation-message-with-files-sse]",
    context_window=10_000_000,
    max_output_tokens=8 * _K,
    batch=True,
)
_add(
    "qwen-doc-turbo",
    "[list] 131,072 / 8,192; text-generation with content parts "
    "(type text / doc_url): [rec:conversation-generation-message-with-doc-url-sse]",
    context_window=128 * _K,
    max_output_tokens=8 * _K,
)
_add(
    "qwen-deep-research",
    "[list] 1,000,000 / 32,768; [rec:deep-research-planning-type-sse]",
    context_window=1_000_000,
    max_output_tokens=32 * _K,
    stream_only=True,
)
_add(
    "qwen-plus-character qwen-plus-character-*",
    "[list] 32,768 / 4,096; [rec:single-generation-message-roleplay-nosse]",
    context_window=32 * _K,
    max_output_tokens=4 * _K,
)
_add(
    "qwen-mt-plus qwen-mt-turbo qwen-mt-flash qwen-mt-lite",
    "[list] 16,384 / 8,192; [rec:single-generation-message-translation-nosse]",
    context_window=16 * _K,
    max_output_tokens=8 * _K,
)
_add(
    "qwen-math-plus qwen-math-turbo qwen2.5-math-*",
    "[list] 4,096 / 3,072",
    context_window=4 * _K,
    max_output_tokens=3 * _K,
)

# -- coder ------------------------------------------------------------------------------------

_add(
    "qwen3-coder-plus qwen3-coder-plus-*",
    "[list] 1,048,576 / 65,536",
    context_window=1_048_576,
    max_output_tokens=64 * _K,
    **_CHAT,
    explicit_cache=True,
)
_add(
    "qwen3-coder-flash qwen3-coder-flash-*",
    "[list] 1,000,000 / 65,536",
    context_window=1_000_000,
    max_output_tokens=64 * _K,
    **_CHAT,
    explicit_cache=True,
)
_add(
    "qwen3-coder-480b-a35b-instruct qwen3-coder-30b-a3b-instruct",
    "[list] 262,144 / 65,536",
    context_window=256 * _K,
    max_output_tokens=64 * _K,
    **_CHAT,
)
_add(
    "qwen2.5-coder-*",
    "[list] 131,072 / 8,192",
    context_window=128 * _K,
    max_output_tokens=8 * _K,
    **_TOOLS,
)

# -- reasoning-only ---------------------------------------------------------------------------

_add(
    "qwq-plus qwq-plus-* qwq-32b qwq-plus-latest",
    "[list] 131,072 / 8,192; [think] "
    'thinking only, "This model only support stream mode" (PROTOCOL.md)',
    context_window=128 * _K,
    max_output_tokens=8 * _K,
    thinking="always",
    stream_only=True,
    **_TOOLS,
)
_add(
    "qvq-max qvq-max-* qvq-plus qvq-plus-*",
    "[list] 131,072 / 8,192; [think] thinking only",
    context_window=128 * _K,
    max_output_tokens=8 * _K,
    thinking="always",
    stream_only=True,
    **_VL,
)

# -- Qwen3 open models (text-generation) ------------------------------------------------------

_add(
    "qwen3-235b-a22b qwen3-32b qwen3-30b-a3b",
    "[list] 131,072 / 16,384, CoT 38,912; "
    "[think] open Qwen3 text models think by default and refuse non-streaming thinking calls",
    context_window=128 * _K,
    max_output_tokens=16 * _K,
    thinking="on_by_default",
    max_thinking_budget=38_912,
    **_CHAT,
)
_add(
    "qwen3-14b qwen3-8b qwen3-4b qwen3-1.7b qwen3-0.6b",
    "[list] 131,072 / 8,192, CoT 38,912",
    context_window=128 * _K,
    max_output_tokens=8 * _K,
    thinking="on_by_default",
    max_thinking_budget=38_912,
    **_CHAT,
)
_add(
    "qwen3-*-instruct-2507",
    "[list] 262,144 / 32,768; non-thinking variants",
    context_window=256 * _K,
    max_output_tokens=32 * _K,
    **_CHAT,
)
_add(
    "qwen3-*-thinking-2507",
    "[list] 262,144 / 32,768, CoT 81,920; thinking only",
    context_window=256 * _K,
    max_output_tokens=32 * _K,
    thinking="always",
    max_thinking_budget=81_920,
    **_TOOLS,
)
_add(
    "qwen3-next-80b-a3b-instruct",
    "[list] 131,072 / 32,768",
    context_window=128 * _K,
    max_output_tokens=32 * _K,
    **_CHAT,
)
_add(
    "qwen3-next-80b-a3b-thinking",
    "[list] 131,072 / 32,768; thinking only",
    context_window=128 * _K,
    max_output_tokens=32 * _K,
    thinking="always",
    max_thinking_budget=81_920,
    **_TOOLS,
)
_add(
    "qwen2.5-*-instruct qwen2.5-*b",
    "[list] 131,072 / 8,192",
    context_window=128 * _K,
    max_output_tokens=8 * _K,
    **_TOOLS,
)
_add(
    "qwen2.5-14b-instruct-1m qwen2.5-7b-instruct-1m",
    "[list] 1,000,000 / 8,192",
    context_window=1_000_000,
    max_output_tokens=8 * _K,
    **_TOOLS,
)
_add("qwen2-*", "[list] 131,072 / 6,144", context_window=128 * _K, max_output_tokens=6 * _K)

# -- vision, audio, omni (multimodal-generation) ----------------------------------------------

_add(
    "qwen3-vl-plus qwen3-vl-plus-* qwen3-vl-flash qwen3-vl-flash-*",
    "[list] 262,144 / 32,768, CoT 81,920; [think] hybrid",
    context_window=256 * _K,
    max_output_tokens=32 * _K,
    max_thinking_budget=81_920,
    **_VL,
    **_HYBRID,
    **_CHAT,
)
_add(
    "qwen3-vl-*-instruct",
    "[list] open Qwen3-VL: 131,072 / 32,768; no thinking",
    context_window=128 * _K,
    max_output_tokens=32 * _K,
    **_VL,
    **_TOOLS,
)
_add(
    "qwen3-vl-*-thinking",
    "[list] open Qwen3-VL thinking: 131,072 / 32,768",
    context_window=128 * _K,
    max_output_tokens=32 * _K,
    thinking="always",
    max_thinking_budget=81_920,
    **_VL,
    **_TOOLS,
)
_add(
    "qwen-vl-max qwen-vl-max-* qwen-vl-plus qwen-vl-plus-*",
    "[list] 131,072 / 8,192; [rec:multimodal-generation-vl-*]",
    context_window=128 * _K,
    max_output_tokens=8 * _K,
    **_VL,
)
_add(
    "qwen-vl-ocr qwen-vl-ocr-*",
    "[list] 34,096 / 4,096; [rec:multimodal-generation-vl-ocr-*]",
    context_window=34_096,
    max_output_tokens=4 * _K,
    endpoint="multimodal",
    image_inputs=True,
)
_add(
    "qwen2.5-vl-*",
    "[list] 131,072 / 8,192",
    context_window=128 * _K,
    max_output_tokens=8 * _K,
    **_VL,
)
_add(
    "qwen-audio-turbo qwen-audio-turbo-* qwen-audio-chat qwen2-audio-instruct",
    "[list] audio understanding 8,192 / 2,048; [rec:multimodal-generation-audio-nosse]",
    context_window=8 * _K,
    max_output_tokens=2 * _K,
    endpoint="multimodal",
    audio_inputs=True,
)
_add(
    "qwen3-omni-30b-a3b-captioner",
    "[rec:multimodal-generation-audio-caption-sse]",
    context_window=64 * _K,
    max_output_tokens=16 * _K,
    endpoint="multimodal",
    audio_inputs=True,
)
_add(
    "qwen-omni-turbo qwen-omni-turbo-* qwen2.5-omni-7b",
    "[list] 32,768 / 2,048; Omni answers only as a stream",
    context_window=32 * _K,
    max_output_tokens=2 * _K,
    **_OMNI,
    **_TOOLS,
)
_add(
    "qwen3-omni-flash qwen3-omni-flash-*",
    "[list] 65,536 / 16,384; [think] hybrid",
    context_window=64 * _K,
    max_output_tokens=16 * _K,
    **_OMNI,
    **_HYBRID,
    **_TOOLS,
)

# -- hosted third-party models (text-generation) ----------------------------------------------

_add(
    "deepseek-v3.2 deepseek-v3.2-exp deepseek-v3.1",
    "[ds] 131,072 / 65,536, CoT 32,768; hybrid, thinking off by default",
    context_window=128 * _K,
    max_output_tokens=64 * _K,
    max_thinking_budget=32 * _K,
    **_HYBRID,
    **_TOOLS,
)
_add(
    "deepseek-v4-pro deepseek-v4-flash deepseek-v4.1-*",
    "models.dev deepseek: 1,000,000 / 384,000; non-streaming thinking answered: "
    "[rec:single-generation-message-reasoning-nosse]",
    context_window=1_000_000,
    max_output_tokens=384_000,
    non_streaming_thinking=True,
    **_HYBRID,
    **_CHAT,
)
_add(
    "deepseek-r1 deepseek-r1-0528",
    "[ds] 131,072 / 16,384; thinking only",
    context_window=128 * _K,
    max_output_tokens=16 * _K,
    thinking="always",
    **_TOOLS,
)
_add(
    "deepseek-r1-distill-*",
    "[ds] 32,768 / 16,384; thinking only",
    context_window=32 * _K,
    max_output_tokens=16 * _K,
    thinking="always",
)
_add(
    "deepseek-v3",
    "[ds] 131,072 / 8,192; no thinking",
    context_window=128 * _K,
    max_output_tokens=8 * _K,
    **_TOOLS,
)
_add(
    "kimi-k2.5 kimi-k2.6",
    "[kimi] 262,144 / 32,768; hybrid, thinking on by default",
    context_window=256 * _K,
    max_output_tokens=32 * _K,
    thinking="on_by_default",
    max_thinking_budget=81_920,
    **_TOOLS,
)
_add(
    "kimi-k2-thinking",
    "[kimi] 262,144 / 16,384, CoT 32,768; thinking only",
    context_window=256 * _K,
    max_output_tokens=16 * _K,
    thinking="always",
    **_TOOLS,
)
_add(
    "moonshot-kimi-k2-instruct",
    "[kimi] 131,072 / 8,192; no thinking",
    context_window=128 * _K,
    max_output_tokens=8 * _K,
    **_TOOLS,
)
_add(
    "glm-4.5 glm-4.5-air",
    "[glm] 131,072 / 16,384, CoT 32,768; no non-streaming output",
    context_window=128 * _K,
    max_output_tokens=16 * _K,
    thinking="on_by_default",
    max_thinking_budget=32 * _K,
    stream_only=True,
)
_add(
    "glm-4.6 glm-4.7 glm-5 glm-5.1",
    "[glm] 202,752 / 16,384, CoT 32,768",
    context_window=202_752,
    max_output_tokens=16 * _K,
    thinking="on_by_default",
    max_thinking_budget=32 * _K,
    **_TOOLS,
)

# -- embeddings and rerank --------------------------------------------------------------------

_add(
    "text-embedding-v1 text-embedding-v2",
    "[embed] 25 texts of 2,048 tokens, 1,536 dims; [rec:text-embedding-nosse]",
    kind="embedding",
    context_window=2 * _K,
    max_output_tokens=1,
    dimensions=(1536,),
    max_inputs=25,
    batch=True,
)
_add(
    "text-embedding-v3",
    "[embed] 10 texts of 8,192 tokens; dims 1,024 default",
    kind="embedding",
    context_window=8 * _K,
    max_output_tokens=1,
    dimensions=(1024, 768, 512, 256, 128, 64),
    max_inputs=10,
    batch=True,
)
_add(
    "text-embedding-v4",
    "[embed] 10 texts of 8,192 tokens; dims 1,024 default, up to 2,048",
    kind="embedding",
    context_window=8 * _K,
    max_output_tokens=1,
    dimensions=(1024, 2048, 1536, 768, 512, 256, 128, 64),
    max_inputs=10,
    batch=True,
)
_add(
    "text-embedding-async-v1 text-embedding-async-v2",
    "[embed] batch embedding task; [rec:batch-text-embedding-nosse]",
    kind="embedding",
    task="batch_embedding",
    context_window=2 * _K,
    max_output_tokens=1,
    dimensions=(1536,),
    batch=True,
)
_add(
    "multimodal-embedding-v1",
    "[embed] multimodal-embedding: 1,024 dims, 20 items",
    kind="embedding",
    endpoint="multimodal",
    context_window=512,
    max_output_tokens=1,
    dimensions=(1024,),
    max_inputs=20,
    image_inputs=True,
    video_inputs=True,
)
_add(
    "qwen3-rerank",
    "[rerank] 500 documents, 4,000 tokens each, 120,000 per request "
    "(gte-rerank retired 2026-05-30)",
    kind="rerank",
    context_window=4_000,
    max_output_tokens=1,
    max_inputs=500,
    max_request_tokens=120_000,
)
_add(
    "gte-rerank-v2",
    "[rerank] 500 documents, 4,000 tokens each, 30,000 per request",
    kind="rerank",
    context_window=4_000,
    max_output_tokens=1,
    max_inputs=500,
    max_request_tokens=30_000,
)
_add(
    "qwen3-vl-rerank",
    "[rerank] 100 documents (text, image, video), 8,000 tokens each, 120,000 per request",
    kind="rerank",
    endpoint="multimodal",
    context_window=8_000,
    max_output_tokens=1,
    max_inputs=100,
    max_request_tokens=120_000,
    image_inputs=True,
    video_inputs=True,
)

# -- image and video synthesis (async tasks) --------------------------------------------------

_IMAGE = {"kind": "image", "context_window": 800, "max_output_tokens": 1, "image_inputs": True}
_VIDEO = {"kind": "video", "context_window": 800, "max_output_tokens": 1, "image_inputs": True}
_add(
    "wanx-v1 wanx2.0-t2i-turbo wanx2.1-t2i-turbo wanx2.1-t2i-plus wan2.2-t2i-flash "
    "wan2.2-t2i-plus wan2.5-t2i-preview "
    "wanx-style-repaint-v1 wanx-background-generation-v2 qwen-mt-image wan2.6-t2i* wan2.6-image* "
    "flux-schnell flux-dev flux-merged stable-diffusion-*",
    "[wan] text-to-image; [rec:image-synthesis-nosse] (wanx-v1); "
    "[sdk] dashscope 2.0.2 examples (wan2.6); Model Studio FLUX and Stable Diffusion text-to-image",
    task="text2image",
    **_IMAGE,
)
_add(
    "wanx2.1-imageedit",
    "[wan] general image editing (image2image route; the SDK sends *imageedit* models there)",
    task="image_edit",
    **_IMAGE,
)
_add(
    "wan2.5-i2i-preview",
    "[wan] image-to-image from reference images (image2image route; the SDK sends wan2.5-i2i*)",
    task="image2image",
    **_IMAGE,
)
_add(
    "wanx2.1-t2v-turbo wanx2.1-t2v-plus wan2.1-t2v-* wan2.2-t2v-* wan2.5-t2v-* wanx2.1-vace-plus "
    "wan2.6-t2v* wan2.6-r2v* wan2.7-t2v* wan2.7-r2v*",
    "[wan] text-to-video (reference and VACE video too); [sdk] dashscope 2.0.2 examples",
    task="text2video",
    **_VIDEO,
)
_add(
    "wanx2.1-i2v-turbo wanx2.1-i2v-plus wan2.1-i2v-* wan2.2-i2v-* wan2.5-i2v-* wan2.6-i2v* "
    "wan2.7-i2v*",
    "[wan] image-to-video from a first frame; [sdk] dashscope 2.0.2 examples (wan2.6, wan2.7)",
    task="image2video",
    **_VIDEO,
)
_add(
    "wanx2.1-kf2v-plus wan2.1-kf2v-* wan2.2-kf2v-*",
    "[wan] first-and-last-frame video (image2video route; the SDK sends *kf2v* models there)",
    task="keyframes2video",
    **_VIDEO,
)

# -- Batch API --------------------------------------------------------------------------------

_add(
    "batch-test-model",
    "PROTOCOL.md Batch API: the free test model of /v1/chat/ds-test",
    context_window=8 * _K,
    max_output_tokens=2 * _K,
    batch=True,
)
