"""The settings every webhook chat provider shares (each provider's `Options` extends them)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator

from healthwatch.urls import http_url


class WebhookOptions(BaseModel):
    """`webhook_url` is the credential: write it as a reference (`${secret:...}`), or as the
    http(s) URL itself."""

    model_config = ConfigDict(extra="forbid")

    webhook_url: str

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value.strip().startswith("${") and value.strip().endswith("}"):
            return value  # the whole URL from a secret: checked when it is read
        return http_url(value)
