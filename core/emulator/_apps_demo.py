"""The demo Bailian app every emulator starts with: a small knowledge base about a fictional
product, the Aurora smart lamp (two pipelines, five documents, tags and metadata to filter on)."""

from __future__ import annotations

from typing import Any

__all__ = ["DEMO_APP", "DEMO_APP_ID"]

DEMO_APP_ID = "demo-rag-app"
"""App id of the demo app (``client.apps.call(DEMO_APP_ID, "How do I pair the lamp?")``)."""

_MANUAL = """\
The Aurora smart lamp is a rechargeable desk lamp made by Lumora. It pairs with the Aurora Home \
app on iOS and Android.

To pair the lamp, switch it on and hold the touch button for 5 seconds until the ring blinks \
blue. Then open the Aurora Home app, tap Add device and follow the steps. Pairing needs a \
2.4 GHz Wi-Fi network.

Brightness goes from 1% to 100% and colour temperature from 2700 K (warm) to 6500 K (daylight). \
A double tap on the button switches between reading mode and night mode."""

_TROUBLE = """\
A ring blinking red means the lamp lost its Wi-Fi connection. Move the lamp closer to the \
router or pair it again.

To reset the lamp to factory settings, hold the touch button for 10 seconds until the ring \
turns white. A reset removes the lamp from the Aurora Home app.

Firmware updates install automatically at night while the lamp is charging. The current \
firmware version is shown in the app under Device info."""

_SPECS = """\
The Aurora lamp uses a 9 W LED with 800 lumens. Its 4000 mAh battery lasts up to 12 hours at \
50% brightness and charges in 3 hours over USB-C.

The lamp weighs 450 g, stands 38 cm tall and its aluminium arm rotates 270 degrees."""

_WARRANTY = """\
Every Aurora lamp comes with a 2-year limited warranty from the date of purchase. The battery \
is covered for 12 months.

The warranty covers manufacturing defects. It does not cover damage from drops, water or \
unofficial chargers. To make a claim, contact support@lumora.example with your order number."""

_RETURNS = """\
You can return an Aurora lamp within 30 days of delivery for a full refund if it is in its \
original packaging. Return shipping is free within the EU.

Refunds are paid to the original payment method within 5 business days after the lamp \
arrives at our warehouse."""

_DOCS: dict[str, list[dict[str, Any]]] = {
    "aurora-docs": [
        {"doc_id": "doc_aurora_manual", "doc_name": "Aurora User Manual",
         "title": "Getting started with the Aurora lamp", "text": _MANUAL,
         "tags": ["manual"], "metadata": {"category": "manual", "lang": "en"},
         "file_id": "file_aurora_manual_001"},
        {"doc_id": "doc_aurora_troubleshooting", "doc_name": "Aurora Troubleshooting",
         "title": "Troubleshooting the Aurora lamp", "text": _TROUBLE,
         "tags": ["manual", "support"], "metadata": {"category": "support", "lang": "en"},
         "file_id": "file_aurora_trouble_002"},
        {"doc_id": "doc_aurora_specs", "doc_name": "Aurora Specifications",
         "title": "Aurora lamp technical specifications", "text": _SPECS,
         "tags": ["specs"], "metadata": {"category": "specs", "lang": "en"},
         "file_id": "file_aurora_specs_003"},
    ],
    "aurora-policies": [
        {"doc_id": "doc_aurora_warranty", "doc_name": "Aurora Warranty",
         "title": "Aurora lamp warranty", "text": _WARRANTY,
         "tags": ["policy"], "metadata": {"category": "policy", "lang": "en"},
         "file_id": "file_aurora_warranty_004"},
        {"doc_id": "doc_aurora_returns", "doc_name": "Aurora Returns",
         "title": "Returns and refunds", "text": _RETURNS,
         "tags": ["policy"], "metadata": {"category": "policy", "lang": "en"},
         "file_id": "file_aurora_returns_005"},
    ],
}  # fmt: skip

DEMO_APP: dict[str, Any] = {
    "app_id": DEMO_APP_ID,
    "name": "Aurora support assistant",
    "model_id": "qwen-plus",
    "pipelines": _DOCS,
}
"""The demo app's definition, in the ``--apps`` JSON file format."""
