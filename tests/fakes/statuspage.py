"""A fake Statuspage (v2 public API): `/api/v2/summary.json` and `/api/v2/status.json`.

The summary has Statuspage's shape: `page`, `status {indicator, description}`,
`components[]` (with groups), unresolved `incidents[]` and `scheduled_maintenances[]`.
Unless set explicitly, the indicator is derived as Statuspage derives it: the worst of
the unresolved incidents' impact and the components' statuses.
"""

from __future__ import annotations

import secrets
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.server import FakeServer, Request, Response, VendorFake

DESCRIPTIONS = {
    "none": "All Systems Operational",
    "minor": "Partially Degraded Service",
    "major": "Partial System Outage",
    "critical": "Major System Outage",
    "maintenance": "Service Under Maintenance",
}
_LEVEL = {"operational": 0, "degraded_performance": 1, "partial_outage": 2, "major_outage": 3}
_IMPACT = {"none": 0, "minor": 1, "major": 2, "critical": 3}
_INDICATOR = {0: "none", 1: "minor", 2: "major", 3: "critical"}


def _ts(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _id() -> str:
    return secrets.token_hex(6)[:12]


class FakeStatuspage(VendorFake):
    """`with FakeStatuspage("OpenAI", ["API", "ChatGPT"]) as page: page.set_component(...)`.

    Given a running `server`, it takes that server over instead of starting its own.
    """

    def __init__(
        self,
        name: str = "Example",
        components: list[str] | None = None,
        *,
        server: FakeServer | None = None,
    ) -> None:
        self.page_id = _id()
        self.name = name
        self.components: list[dict[str, Any]] = []
        self.incidents: list[dict[str, Any]] = []
        self.maintenances: list[dict[str, Any]] = []
        self.indicator: str | None = None  # None: derived
        self._queued: deque[Response] = deque()
        for c in components or []:
            self.add_component(c)
        super().__init__(server)
        self.server.route("GET", "/api/v2/summary.json", self._summary)
        self.server.route("GET", "/api/v2/status.json", self._status)

    # -- setup -------------------------------------------------------------------------

    def add_component(
        self, name: str, status: str = "operational", group: str | None = None
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        component: dict[str, Any] = {
            "id": _id(),
            "name": name,
            "status": status,
            "created_at": _ts(now - timedelta(days=400)),
            "updated_at": _ts(now - timedelta(hours=2)),
            "position": len(self.components) + 1,
            "description": None,
            "showcase": True,
            "start_date": None,
            "group_id": None,
            "page_id": self.page_id,
            "group": False,
            "only_show_if_degraded": False,
        }
        if group is not None:
            parent = self._component(group)
            component["group_id"] = parent["id"]
            parent.setdefault("components", []).append(component["id"])
        self.components.append(component)
        return component

    def add_group(self, name: str, members: list[str]) -> dict[str, Any]:
        group = self.add_component(name)
        group["group"] = True
        group["components"] = []
        for member in members:
            self.add_component(member, group=name)
        return group

    def set_component(self, name: str, status: str) -> None:
        self._component(name)["status"] = status

    def add_incident(
        self,
        name: str,
        impact: str = "minor",
        components: list[str] | None = None,
        status: str = "investigating",
        body: str = "We are investigating elevated error rates.",
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        incident_id = _id()
        affected = [self._component(c) for c in components or []]
        incident = {
            "id": incident_id,
            "name": name,
            "status": status,
            "created_at": _ts(now - timedelta(minutes=20)),
            "updated_at": _ts(now - timedelta(minutes=5)),
            "monitoring_at": None,
            "resolved_at": None,
            "impact": impact,
            "shortlink": f"https://stspg.io/{incident_id[:6]}",
            "started_at": _ts(now - timedelta(minutes=20)),
            "page_id": self.page_id,
            "incident_updates": [
                {
                    "id": _id(),
                    "status": status,
                    "body": body,
                    "incident_id": incident_id,
                    "created_at": _ts(now - timedelta(minutes=5)),
                    "updated_at": _ts(now - timedelta(minutes=5)),
                    "display_at": _ts(now - timedelta(minutes=5)),
                    "affected_components": [
                        {
                            "code": c["id"],
                            "name": c["name"],
                            "old_status": "operational",
                            "new_status": c["status"],
                        }
                        for c in affected
                    ],
                    "deliver_notifications": True,
                    "custom_tweet": None,
                    "tweet_id": None,
                }
            ],
            "components": affected,
        }
        self.incidents.append(incident)
        return incident

    def add_maintenance(
        self, name: str, status: str = "in_progress", components: list[str] | None = None
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        maintenance = {
            "id": _id(),
            "name": name,
            "status": status,
            "created_at": _ts(now - timedelta(days=2)),
            "updated_at": _ts(now - timedelta(minutes=10)),
            "monitoring_at": None,
            "resolved_at": None,
            "impact": "maintenance",
            "shortlink": "https://stspg.io/mnt01",
            "started_at": _ts(now - timedelta(minutes=10)),
            "page_id": self.page_id,
            "incident_updates": [],
            "components": [self._component(c) for c in components or []],
            "scheduled_for": _ts(now - timedelta(minutes=10)),
            "scheduled_until": _ts(now + timedelta(hours=1)),
        }
        self.maintenances.append(maintenance)
        return maintenance

    def queue(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        self._queued.append(Response(status, body, headers or {}))

    def rate_limit(self, retry_after: int = 30) -> None:
        self.queue(429, "Rate limit exceeded", {"Retry-After": str(retry_after)})

    # -- server ------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        indicator = self.indicator or self._derived()
        return {
            "page": self._page(),
            "components": self.components,
            "incidents": self.incidents,
            "scheduled_maintenances": self.maintenances,
            "status": {"indicator": indicator, "description": DESCRIPTIONS.get(indicator, "")},
        }

    def _page(self) -> dict[str, Any]:
        return {
            "id": self.page_id,
            "name": self.name,
            "url": f"https://status.{self.name.lower()}.com",
            "time_zone": "Etc/UTC",
            "updated_at": _ts(datetime.now(UTC)),
        }

    def _derived(self) -> str:
        level = max(
            [_LEVEL.get(c["status"], 0) for c in self.components if not c.get("group")]
            + [_IMPACT.get(i["impact"], 0) for i in self.incidents],
            default=0,
        )
        if level == 0 and any(m["status"] == "in_progress" for m in self.maintenances):
            return "maintenance"
        return _INDICATOR[level]

    def _summary(self, req: Request) -> Response:
        if self._queued:
            return self._queued.popleft()
        return Response(200, self.summary())

    def _status(self, req: Request) -> Response:
        if self._queued:
            return self._queued.popleft()
        body = self.summary()
        return Response(200, {"page": body["page"], "status": body["status"]})

    def _component(self, name: str) -> dict[str, Any]:
        for c in self.components:
            if c["name"] == name:
                return c
        raise KeyError(name)
