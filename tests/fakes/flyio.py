"""A fake Fly Machines API (api.machines.dev): machines, states, checks, restarts, Fly's errors.

Shapes follow the Machines API reference and fly-go's types: a list of machine
objects (`id`, `name`, `state`, `region`, `instance_id`, `config.services[].autostart`,
`checks[] {name, status, output, updated_at}`, ...); errors are `{"error": "..."}`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.server import FakeServer, Request, Response, VendorFake

UNAUTHORIZED = {"error": "unauthorized"}
APP_NOT_FOUND = {"error": "app not found"}
MACHINE_NOT_FOUND = {"error": "machine not found"}
RATE_LIMITED = {"error": "rate limit exceeded"}

_PATH = re.compile(r"^/v1/apps/(?P<app>[^/]+)/machines(?:/(?P<id>[^/]+)(?:/(?P<action>[a-z]+))?)?$")
_WORDS = ("aged", "summer", "wild", "quiet", "bold", "misty", "snowy", "dark")
_NOUNS = ("wind", "sun", "river", "frost", "leaf", "field", "pine", "cloud")


def stamp(ts: datetime) -> str:
    """Fly's timestamps: RFC 3339, seconds, `Z`."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_status(
    name: str, status: str, *, output: str | None = None, updated_at: datetime | None = None
) -> dict[str, Any]:
    default = {
        "passing": "Success",
        "warning": "HTTP 429 Too Many Requests",
        "critical": 'Get "http://[fdaa:0:1::2]:8080/health": dial tcp: connection refused',
    }.get(status, "")
    return {
        "name": name,
        "status": status,
        "output": default if output is None else output,
        "updated_at": stamp(updated_at or datetime.now(UTC)),
    }


def machine(
    *,
    id: str | None = None,
    state: str = "started",
    region: str = "ord",
    checks: dict[str, str] | None = None,
    autostart: bool | None = True,
    autostop: bool | str | None = True,
    process_group: str = "app",
    standbys: list[str] | None = None,
    updated_at: datetime | None = None,
    host_status: str = "ok",
    app: str = "my-app",
) -> dict[str, Any]:
    """One machine as `GET /v1/apps/{app}/machines` lists it."""
    now = datetime.now(UTC)
    updated = updated_at or now - timedelta(minutes=30)
    machine_id = id or secrets.token_hex(7)
    service: dict[str, Any] = {
        "protocol": "tcp",
        "internal_port": 8080,
        "ports": [
            {"port": 80, "handlers": ["http"], "force_https": True},
            {"port": 443, "handlers": ["http", "tls"]},
        ],
        "checks": [
            {
                "type": "http",
                "interval": "15s",
                "timeout": "10s",
                "method": "GET",
                "path": "/health",
            }
        ],
        "min_machines_running": 0,
        "force_instance_key": None,
    }
    if autostart is not None:
        service["autostart"] = autostart
    if autostop is not None:
        service["autostop"] = autostop
    config: dict[str, Any] = {
        "init": {},
        "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 512},
        "metadata": {
            "fly_flyctl_version": "0.3.200",
            "fly_platform_version": "v2",
            "fly_process_group": process_group,
            "fly_release_id": "Vx9wQ0",
            "fly_release_version": "42",
        },
        "services": [service],
        "image": f"registry.fly.io/{app}:deployment-01J9ZK8Q2E",
        "restart": {"policy": "on-failure", "max_retries": 10},
    }
    if standbys:
        config["standbys"] = standbys
    return {
        "id": machine_id,
        "name": _name(machine_id),
        "state": state,
        "region": region,
        "image_ref": {
            "registry": "registry.fly.io",
            "repository": app,
            "tag": "deployment-01J9ZK8Q2E",
            "digest": "sha256:" + "0" * 64,
            "labels": {},
        },
        "instance_id": "01J9ZK" + secrets.token_hex(10).upper(),
        "private_ip": "fdaa:0:18:a7b:196:e274:9ce1:2",
        "created_at": stamp(now - timedelta(days=3)),
        "updated_at": stamp(updated),
        "config": config,
        "events": [
            {
                "type": "start",
                "status": "started",
                "source": "flyd",
                "timestamp": int(updated.timestamp() * 1000),
            },
            {
                "type": "launch",
                "status": "created",
                "source": "user",
                "timestamp": int((now - timedelta(days=3)).timestamp() * 1000),
            },
        ],
        "checks": [check_status(n, s) for n, s in (checks or {}).items()],
        "host_status": host_status,
    }


def _name(machine_id: str) -> str:
    """Fly-style generated names (`aged-wind-2649`), stable per id."""
    h = int(hashlib.sha256(machine_id.encode()).hexdigest()[:8], 16)
    return f"{_WORDS[h % 8]}-{_NOUNS[(h // 8) % 8]}-{1000 + h % 9000}"


class FakeFly(VendorFake):
    """`with FakeFly(token="t") as fly: fly.add_machine("my-app", checks={...})`.

    Speaks bearer (or `FlyV1 ...` macaroon) auth; a wrong or missing token gets the
    401 `{"error": "unauthorized"}`; an unknown app a 404 `{"error": "app not found"}`.
    `queue(...)` makes the next requests answer something else (a 429, a 500).
    Given a running `server`, it takes that server over instead of starting its own.
    """

    def __init__(
        self,
        token: str = "fly-test-token",
        *,
        echo_token_in_errors: bool = False,
        server: FakeServer | None = None,
    ) -> None:
        self.token = token
        self.echo_token_in_errors = echo_token_in_errors
        self.apps: dict[str, list[dict[str, Any]]] = {}
        self.restarts: list[tuple[str, str]] = []
        self.restart_heals = False
        # What a restart answers instead (a read-only token gets a 401 from Fly).
        self.restart_error: Response | None = None
        self._queued: deque[Response] = deque()
        super().__init__(server)

    # -- setup -------------------------------------------------------------------------

    def add_app(self, app: str) -> None:
        self.apps.setdefault(app, [])

    def add_machine(self, app: str, **kwargs: Any) -> dict[str, Any]:
        m = machine(app=app, **kwargs)
        self.apps.setdefault(app, []).append(m)
        return m

    def find(self, app: str, machine_id: str) -> dict[str, Any]:
        for m in self.apps[app]:
            if m["id"] == machine_id:
                return m
        raise KeyError(machine_id)

    def set_checks(self, app: str, machine_id: str, **statuses: str) -> None:
        self.find(app, machine_id)["checks"] = [check_status(n, s) for n, s in statuses.items()]

    def set_state(
        self, app: str, machine_id: str, state: str, updated_at: datetime | None = None
    ) -> None:
        m = self.find(app, machine_id)
        m["state"] = state
        m["updated_at"] = stamp(updated_at or datetime.now(UTC))

    def queue(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        self._queued.append(Response(status, body, headers or {}))

    def rate_limit(self, retry_after: int = 2, times: int = 1) -> None:
        for _ in range(times):
            self.queue(429, RATE_LIMITED, {"Retry-After": str(retry_after)})

    # -- server ------------------------------------------------------------------------

    def _authorized(self, req: Request) -> bool:
        header = req.header("Authorization") or ""
        if self.token.startswith("FlyV1 "):
            return header == self.token
        return header == f"Bearer {self.token}"

    def _handle(self, req: Request) -> Response:
        match = _PATH.match(req.path)
        if match is None:
            return Response(404, {"error": "not found"})
        if not self._authorized(req):
            if self.echo_token_in_errors:
                sent = (req.header("Authorization") or "").split(" ", 1)[-1]
                return Response(401, {"error": f"token {sent} is not valid"})
            return Response(401, UNAUTHORIZED)
        if self._queued:
            return self._queued.popleft()
        app, machine_id, action = match["app"], match["id"], match["action"]
        if app not in self.apps:
            return Response(404, APP_NOT_FOUND)
        if machine_id is None and req.method == "GET":
            regions = req.query.get("region")
            region = regions[0] if regions else None
            listed = [m for m in self.apps[app] if region is None or m["region"] == region]
            return Response(200, listed)
        try:
            m = self.find(app, machine_id or "")
        except KeyError:
            return Response(404, MACHINE_NOT_FOUND)
        if action is None and req.method == "GET":
            return Response(200, m)
        if action == "restart" and req.method == "POST":
            if self.restart_error is not None:
                return self.restart_error
            self.restarts.append((app, m["id"]))
            if self.restart_heals:
                m["checks"] = [check_status(c["name"], "passing") for c in m["checks"]]
            m["updated_at"] = stamp(datetime.now(UTC))
            return Response(200, {"ok": True})
        return Response(405, {"error": "method not allowed"})
