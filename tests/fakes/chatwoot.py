"""A fake Chatwoot: `/health`, `/api` and `/api/v1/profile` behind `api_access_token`."""

from __future__ import annotations

from typing import Any

from tests.fakes.server import Request, Response, VendorFake

# Chatwoot's answers: a token that matches no user (AccessTokenAuthHelper) and no token at
# all (Devise).
INVALID_TOKEN = {"error": "Invalid Access Token"}
NOT_SIGNED_IN = {"errors": ["You need to sign in or sign up before continuing."]}


def throttled() -> Response:
    """rack-attack's default throttled answer."""
    return Response(429, "Retry later\n", headers={"Content-Type": "text/plain"})


def server_error() -> Response:
    return Response(
        500,
        {"status": 500, "error": "Internal Server Error"},
    )


class ChatwootFake(VendorFake):
    """One installation, one user whose API token is `token` (the profile echoes it back)."""

    def __init__(self, token: str, pubsub_token: str = "pubsub-fake-0000") -> None:
        self.token = token
        self.pubsub_token = pubsub_token
        self.hmac_identifier = "hmac-fake-0000"
        # What the profile says the user's token is: Chatwoot echoes the caller's own.
        self.returned_token = token
        super().__init__()
        self.reset()

    def reset(self) -> None:
        self.override: Response | None = None  # answers an authenticated profile request
        self.health: Response = Response(200, {"status": "woot"})
        self.services = {"queue_services": "ok", "data_services": "ok"}
        self.accounts: list[dict[str, Any]] = [
            {
                "id": 1,
                "name": "HotDash",
                "status": "active",
                "active_at": "2026-11-26T20:00:00.000Z",
                "role": "administrator",
                "permissions": ["administrator"],
                "availability": "online",
                "availability_status": "online",
                "auto_offline": True,
                "custom_role_id": None,
                "custom_role": None,
            }
        ]
        self.server.requests.clear()

    def profile(self) -> dict[str, Any]:
        return {
            "id": 7,
            "access_token": self.returned_token,
            "account_id": 1,
            "available_name": "Support Bot Owner",
            "avatar_url": "",
            "confirmed": True,
            "display_name": None,
            "message_signature": None,
            "email": "agent@example.com",
            "hmac_identifier": self.hmac_identifier,
            "inviter_id": None,
            "name": "Support Bot Owner",
            "provider": "email",
            "pubsub_token": self.pubsub_token,
            "role": "administrator",
            "ui_settings": {"is_contact_sidebar_open": True},
            "uid": "agent@example.com",
            "type": "User",
            "custom_attributes": {},
            "accounts": self.accounts,
        }

    def _handle(self, req: Request) -> Response:
        if req.method != "GET":
            return Response(404, {"error": "not found"})
        if req.path == "/health":
            return self.health
        if req.path == "/api":
            return Response(
                200,
                {"version": "4.8.0", "timestamp": "2026-11-26 20:45:00", **self.services},
            )
        if req.path != "/api/v1/profile":
            return Response(404, {"error": "not found"})
        token = req.header("api_access_token")
        if not token:
            return Response(401, NOT_SIGNED_IN)
        if token != self.token:
            return Response(401, INVALID_TOKEN)
        if self.override is not None:
            return self.override
        return Response(200, self.profile())
