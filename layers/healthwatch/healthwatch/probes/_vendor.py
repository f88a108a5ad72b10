"""What the vendor API probes share.

Not a probe type: `known_types()` passes over modules whose name starts with `_`.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _base_url(value: str) -> str:
    if not re.match(r"^https?://[^/]+", value):
        raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
    return value.rstrip("/")


# A credential option (a secret reference, or a literal): anything but blank.
Credential = Annotated[str, AfterValidator(_not_blank)]
# An API root: http(s) with a host, kept without its trailing slash.
BaseUrl = Annotated[str, AfterValidator(_base_url)]
