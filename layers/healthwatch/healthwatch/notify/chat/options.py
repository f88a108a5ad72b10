"""The settings every webhook chat provider shares (each provider's `Options` extends them)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class WebhookOptions(BaseModel):
    """`webhook_url` is the credential: write it as a reference (`${secret:...}`)."""

    model_config = ConfigDict(extra="forbid")

    webhook_url: str
