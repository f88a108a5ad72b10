"""A fake Google: the OAuth token endpoint (JWT bearer grant, RS256 verified) and the GA4 APIs."""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fakes.server import Request, Response, VendorFake

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# google-auth signs the assertion for Google's endpoint whatever `token_uri` says, and
# Google checks exactly that audience.
AUDIENCE = "https://oauth2.googleapis.com/token"
SCOPE = "https://www.googleapis.com/auth/analytics.readonly"
TOKEN_PATH = "/token"
_PROPERTY = re.compile(r"^/v1beta/properties/(?P<id>[^/:]+)(?P<report>:runReport)?$")


@dataclass
class ServiceAccount:
    """A key file made at test time; the fake knows only `public_key`."""

    info: dict[str, str]
    public_key: rsa.RSAPublicKey

    @property
    def json(self) -> str:
        return json.dumps(self.info)

    @property
    def email(self) -> str:
        return self.info["client_email"]


def make_service_account(
    token_uri: str,
    email: str = "healthwatch@hotdash-analytics.iam.gserviceaccount.com",
    key: rsa.RSAPrivateKey | None = None,
) -> ServiceAccount:
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "hotdash-analytics",
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": email,
        "client_id": "104" + "".join(secrets.choice("0123456789") for _ in range(18)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{email}",
        "universe_domain": "googleapis.com",
    }
    return ServiceAccount(info, key.public_key())


def _google_error(
    code: int, status: str, message: str, reason: str | None = None, **metadata: str
) -> Response:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if reason:
        error["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
                "metadata": metadata,
            }
        ]
    return Response(code, {"error": error})


def _grant_error(error: str, description: str, status: int = 400) -> Response:
    return Response(status, {"error": error, "error_description": description})


def unauthenticated() -> Response:
    return _google_error(
        401,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
        "cookie or other valid authentication credential. See "
        "https://developers.google.com/identity/sign-in/web/devconsole-project.",
        "ACCESS_TOKEN_TYPE_UNSUPPORTED",
    )


def no_permission() -> Response:
    return _google_error(
        403,
        "PERMISSION_DENIED",
        "User does not have sufficient permissions for this property. To learn more about "
        "Property ID, see https://developers.google.com/analytics/devguides/reporting/data/v1/"
        "property-id.",
    )


def service_disabled(api: str, project_number: str = "123456789012") -> Response:
    host = "analyticsdata.googleapis.com" if api == "data" else "analyticsadmin.googleapis.com"
    name = "Google Analytics Data API" if api == "data" else "Google Analytics Admin API"
    return _google_error(
        403,
        "PERMISSION_DENIED",
        f"{name} has not been used in project {project_number} before or it is disabled. "
        f"Enable it by visiting https://console.developers.google.com/apis/api/{host}/overview"
        f"?project={project_number} then retry. If you enabled this API recently, wait a few "
        "minutes for the action to propagate to our systems and retry.",
        "SERVICE_DISABLED",
        service=host,
        consumer=f"projects/{project_number}",
    )


def insufficient_scope() -> Response:
    return _google_error(
        403,
        "PERMISSION_DENIED",
        "Request had insufficient authentication scopes.",
        "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
    )


def quota_exhausted() -> Response:
    return _google_error(
        429,
        "RESOURCE_EXHAUSTED",
        "Exhausted property tokens per hour for this property. Wait until the quota resets "
        "or reduce the complexity of requests.",
    )


def account_not_found() -> Response:
    return _grant_error("invalid_grant", "Invalid grant: account not found")


class GoogleFake(VendorFake):
    """One Google: register service accounts, then they can get tokens and read `property_id`."""

    def __init__(self, property_id: str = "345678901") -> None:
        self.property_id = property_id
        super().__init__()
        self.accounts: dict[str, tuple[rsa.RSAPublicKey, str]] = {}
        self.issued: list[str] = []  # every token ever issued, for leak tests
        self.reset()

    def reset(self) -> None:
        # issued token -> (expires, scope, service account)
        self.tokens: dict[str, tuple[float, str, str]] = {}
        self.token_override: Response | None = None  # answers a valid grant instead
        self.api_override: Response | None = None  # answers an authorised API call instead
        self.granted: set[str] = set(self.accounts)  # emails with access to the property
        self.expires_in = 3599
        self.active_users = 42
        self.server.requests.clear()

    def register(self, account: ServiceAccount, granted: bool = True) -> None:
        self.accounts[account.email] = (account.public_key, account.info["private_key_id"])
        if granted:
            self.granted.add(account.email)

    @property
    def token_uri(self) -> str:
        return self.server.url + TOKEN_PATH

    def _handle(self, req: Request) -> Response:
        if (req.method, req.path) == ("POST", TOKEN_PATH):
            return self._token(req)
        match = _PROPERTY.match(req.path)
        if match is None:
            return _google_error(404, "NOT_FOUND", f"Method not found: {req.path}")
        api = "data" if match["report"] else "admin"
        if (api, req.method) not in (("data", "POST"), ("admin", "GET")):
            return _google_error(404, "NOT_FOUND", f"Method not found: {req.path}")
        return self._api(req, api, match["id"])

    # -- the token endpoint ---------------------------------------------------------------

    def _token(self, req: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(req.body.decode()).items()}
        if form.get("grant_type") != JWT_BEARER:
            return _grant_error(
                "unsupported_grant_type", f"Invalid grant_type: {form.get('grant_type', '')}"
            )
        try:
            header, claims, signed, signature = _split(form.get("assertion", ""))
        except ValueError:
            return _grant_error("invalid_request", "Invalid JWT: malformed assertion")
        account = self.accounts.get(str(claims.get("iss")))
        if account is None:
            return account_not_found()
        public_key, key_id = account
        if header.get("alg") != "RS256":
            return _grant_error("invalid_grant", "Invalid JWT: unsupported algorithm")
        try:
            public_key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return _grant_error("invalid_grant", "Invalid JWT Signature.")
        if header.get("kid") not in (None, key_id):
            return _grant_error("invalid_grant", "Invalid JWT Signature.")
        if claims.get("aud") != AUDIENCE:
            return _grant_error("invalid_grant", "Invalid JWT: Failed audience check.")
        now = time.time()
        iat, exp = claims.get("iat"), claims.get("exp")
        if (
            not isinstance(iat, int | float)
            or not isinstance(exp, int | float)
            or exp - iat > 3600
            or iat > now + 300
            or exp < now
        ):
            return _grant_error(
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
                "timeframe. Check your iat and exp values in the JWT claim.",
            )
        if self.token_override is not None:
            return self.token_override
        token = "ya29.c." + secrets.token_urlsafe(48)
        self.issued.append(token)
        self.tokens[token] = (now + self.expires_in, str(claims.get("scope", "")), claims["iss"])
        return Response(
            200, {"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"}
        )

    # -- the Admin and Data APIs ----------------------------------------------------------

    def _api(self, req: Request, api: str, property_id: str) -> Response:
        auth = req.header("Authorization") or ""
        issued = (
            self.tokens.get(auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None
        )
        if issued is None or issued[0] < time.time():
            return unauthenticated()
        if SCOPE not in issued[1].split():
            return insufficient_scope()
        if self.api_override is not None:
            return self.api_override
        if property_id != self.property_id or issued[2] not in self.granted:
            return no_permission()
        if api == "admin":
            return Response(200, self._property())
        return Response(200, self._report())

    def _property(self) -> dict[str, Any]:
        return {
            "name": f"properties/{self.property_id}",
            "propertyType": "PROPERTY_TYPE_ORDINARY",
            "createTime": "2023-03-01T17:04:11.312Z",
            "updateTime": "2026-10-02T09:00:00.000Z",
            "parent": "accounts/287654321",
            "displayName": "HotDash - GA4",
            "industryCategory": "SHOPPING",
            "timeZone": "America/New_York",
            "currencyCode": "USD",
            "serviceLevel": "GOOGLE_ANALYTICS_STANDARD",
            "account": "accounts/287654321",
        }

    def _report(self) -> dict[str, Any]:
        def quota(consumed: int, remaining: int) -> dict[str, int]:
            return {"consumed": consumed, "remaining": remaining}

        return {
            "metricHeaders": [{"name": "activeUsers", "type": "TYPE_INTEGER"}],
            "rows": [{"metricValues": [{"value": str(self.active_users)}]}],
            "rowCount": 1,
            "metadata": {"currencyCode": "USD", "timeZone": "America/New_York"},
            "propertyQuota": {
                "tokensPerDay": quota(3, 199_997),
                "tokensPerHour": quota(3, 39_997),
                "concurrentRequests": quota(0, 10),
                "serverErrorsPerProjectPerHour": quota(0, 10),
                "potentiallyThresholdedRequestsPerHour": quota(0, 120),
                "tokensPerProjectPerHour": quota(3, 13_997),
            },
            "kind": "analyticsData#runReport",
        }


def _split(assertion: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """(header, claims, signed bytes, signature) of a compact JWS; ValueError if malformed."""
    parts = assertion.split(".")
    if len(parts) != 3:
        raise ValueError("not a JWS")
    try:
        header = json.loads(_b64(parts[0]))
        claims = json.loads(_b64(parts[1]))
        signature = _b64(parts[2])
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError("bad encoding") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ValueError("not JSON objects")
    return header, claims, f"{parts[0]}.{parts[1]}".encode(), signature


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
