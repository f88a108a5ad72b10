"""The settings every webhook chat provider shares (each provider's `Options` extends them)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from healthwatch.models import AlertEvent, EventKind
from healthwatch.urls import http_url

SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}


class WebhookOptions(BaseModel):
    """`webhook_url` is the credential: write it as a reference (`${secret:...}`), or as the
    http(s) URL itself."""

    model_config = ConfigDict(extra="forbid")

    webhook_url: str
    # Routing: which events this provider is sent (all when unset), and from what severity.
    events: list[EventKind] | None = None
    min_severity: Literal["info", "warning", "critical"] = "info"

    def accepts(self, event: AlertEvent) -> bool:
        if self.events is not None and event.event not in self.events:
            return False
        return SEVERITY_RANK.get(event.severity, 2) >= SEVERITY_RANK[self.min_severity]

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value.strip().startswith("${") and value.strip().endswith("}"):
            return value  # the whole URL from a secret: checked when it is read
        return http_url(value)
