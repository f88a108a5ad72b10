"""A fake Shopify Admin REST API: `shop.json` behind `X-Shopify-Access-Token`, real error shapes."""

from __future__ import annotations

import uuid
from typing import Any

from tests.fakes.server import Request, Response, VendorFake

API_VERSION = "2025-10"
INVALID_TOKEN = {
    "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
}


def frozen() -> Response:
    """402: the shop has an unpaid bill."""
    return Response(402, {"errors": "Unavailable Shop"})


def locked() -> Response:
    """423: Shopify locked the shop."""
    return Response(423, {"errors": "Locked"})


def missing_scope(scope: str = "read_products") -> Response:
    return Response(
        403, {"errors": f"[API] This action requires merchant approval for {scope} scope."}
    )


def throttled(retry_after: str = "2.0") -> Response:
    """429 from the leaky bucket: `Retry-After` and a full call-limit header."""
    return Response(
        429,
        {
            "errors": "Exceeded 2 calls per second for api client. "
            "Reduce request rates to resume uninterrupted service."
        },
        headers={"Retry-After": retry_after, "X-Shopify-Shop-Api-Call-Limit": "40/40"},
    )


def server_error() -> Response:
    return Response(
        503,
        "<!DOCTYPE html><html><body>Shopify is temporarily unavailable</body></html>",
        headers={"Content-Type": "text/html; charset=utf-8"},
    )


def shop_body(shop: str, name: str = "HotDash Test") -> dict[str, Any]:
    return {
        "shop": {
            "id": 548380009,
            "name": name,
            "email": "owner@example.com",
            "domain": "shop.example.com",
            "province": "California",
            "country": "US",
            "city": "San Francisco",
            "created_at": "2021-04-01T10:00:00-04:00",
            "updated_at": "2026-11-20T09:15:00-05:00",
            "country_code": "US",
            "country_name": "United States",
            "currency": "USD",
            "customer_email": "support@example.com",
            "timezone": "(GMT-05:00) Eastern Time (US & Canada)",
            "iana_timezone": "America/New_York",
            "shop_owner": "Owner Name",
            "money_format": "${{amount}}",
            "weight_unit": "lb",
            "plan_display_name": "Shopify Plus",
            "plan_name": "shopify_plus",
            "myshopify_domain": shop,
            "password_enabled": False,
            "has_storefront": True,
            "setup_required": False,
            "enabled_presentment_currencies": ["USD"],
        }
    }


class ShopifyFake(VendorFake):
    """One shop. Set `override` to answer an authenticated request with a vendor error."""

    def __init__(self, token: str, shop: str = "hotdash-test.myshopify.com") -> None:
        self.token = token
        self.shop = shop
        super().__init__()
        self.reset()

    def reset(self) -> None:
        """Back to a healthy shop with no recorded requests (one server serves many tests)."""
        self.override: Response | None = None
        self.served_version: str | None = None  # what X-Shopify-API-Version says; None: as asked
        self.calls_used = 1
        self.server.requests.clear()

    def _handle(self, req: Request) -> Response:
        parts = req.path.strip("/").split("/")
        common = {"X-Request-Id": str(uuid.uuid4())}
        if req.method != "GET" or len(parts) != 4 or parts[:2] != ["admin", "api"]:
            return Response(404, {"errors": "Not Found"}, headers=common)
        if req.header("X-Shopify-Access-Token") != self.token:
            return Response(401, INVALID_TOKEN, headers=common)
        if self.override is not None:
            resp = self.override
            return Response(resp.status, resp.body, {**common, **resp.headers}, resp.delay)
        if parts[3] != "shop.json":
            return Response(404, {"errors": "Not Found"}, headers=common)
        return Response(
            200,
            shop_body(self.shop),
            headers={
                **common,
                "X-Shopify-Shop-Api-Call-Limit": f"{self.calls_used}/40",
                "X-Shopify-API-Version": self.served_version or parts[2],
            },
        )
