"""Wire model of the temporary-upload policy (recorded ``get-upload-policy-nosse``)."""

from __future__ import annotations

from dashscope_core.types.common import WireModel, null_means_default

__all__ = ["UploadPolicy"]


class UploadPolicy(WireModel):
    """``data`` of ``GET /uploads?action=getPolicy&model=...``: a signed OSS form-upload policy
    for one model, valid ``expire_in_seconds``; files go under ``upload_dir``."""

    policy: str = ""
    signature: str = ""
    upload_dir: str = ""
    upload_host: str = ""
    oss_access_key_id: str = ""
    x_oss_object_acl: str = "private"
    x_oss_forbid_overwrite: str = "true"
    expire_in_seconds: int | None = None
    max_file_size_mb: int | None = None
    capacity_limit_mb: int | None = None

    _nulls = null_means_default(
        "policy", "signature", "upload_dir", "upload_host", "oss_access_key_id",
        "x_oss_object_acl", "x_oss_forbid_overwrite",
    )  # fmt: skip
