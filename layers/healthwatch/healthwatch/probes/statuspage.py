"""`statuspage`: a vendor's status page in Statuspage v2 format (`/api/v2/summary.json`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from healthwatch.errors import ErrorKind, ProbeError
from healthwatch.models import Status
from healthwatch.probes import Category, Observation, ProbeContext, options
from healthwatch.probes._vendor import USER_AGENT, Answer, timed_request
from healthwatch.records import Field, field_validator
from healthwatch.urls import http_url

if TYPE_CHECKING:
    from healthwatch.config import Check

CATEGORY = Category.INTEGRATION

SUMMARY_PATH = "/api/v2/summary.json"
# The page's indicator and a component's status, on one scale of severity.
INDICATOR_LEVEL = {"none": 0, "minor": 1, "major": 2, "critical": 3}
COMPONENT_LEVEL = {
    "operational": 0,
    "degraded_performance": 1,
    "partial_outage": 2,
    "major_outage": 3,
}
LEVEL_NAME = {0: "none", 1: "minor", 2: "major", 3: "critical"}
MAINTENANCE = -1  # under_maintenance / the `maintenance` indicator
ACTIVE_MAINTENANCE = frozenset({"in_progress", "verifying"})


@options
class Options:
    url: str  # the page, e.g. https://status.openai.com (what the result shows)
    base_url: str | None = None  # where to fetch it from instead (a proxy, a test server)
    components: list[str] = Field(default_factory=list)
    down_at: Literal["major", "critical"] = "major"

    @field_validator("url", "base_url")
    @classmethod
    def _page(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = http_url(value).rstrip("/")
        for suffix in (SUMMARY_PATH, "/api/v2/status.json", "/api/v2"):
            value = value.removesuffix(suffix)
        return value

    @field_validator("components")
    @classmethod
    def _names(cls, values: list[str]) -> list[str]:
        names = [v.strip() for v in values]
        if any(not n for n in names):
            raise ValueError("a component name cannot be empty")
        return names


def target(options: Options) -> str:
    return options.url


async def probe(check: Check, ctx: ProbeContext) -> Observation:
    """Fetch the summary; map the indicator (or the named components) to up/degraded/down."""
    opts: Options = check.options
    url = (opts.base_url or opts.url) + SUMMARY_PATH
    try:
        resp, seen = await timed_request(
            ctx,
            url,
            {"Accept": "application/json", "User-Agent": USER_AGENT},
            follow_redirects=True,  # a public page, no credential to leak
        )
    except ProbeError as exc:
        raise ProbeError(exc.kind, f"status page: {exc.message}") from None
    latency_ms = seen.latency_ms
    if resp.status_code >= 400:
        raise _http_error(resp, opts.url)
    try:
        summary = resp.json()
    except ValueError:
        raise ProbeError(ErrorKind.INVALID_JSON, f"{opts.url}{SUMMARY_PATH} is not JSON") from None
    status = summary.get("status") if isinstance(summary, dict) else None
    if not isinstance(status, dict) or not isinstance(status.get("indicator"), str):
        raise ProbeError(
            ErrorKind.INVALID_JSON, f"{opts.url}{SUMMARY_PATH} is not a Statuspage v2 summary"
        )

    components = [c for c in summary.get("components") or [] if isinstance(c, dict)]
    indicator = str(status["indicator"])
    description = str(status.get("description") or "")
    if opts.components:
        watched = _watched(components, opts.components)
        level = max((_component_level(c, components) for c in watched), key=_severity)
        affected = [c for c in watched if _component_level(c, components) != 0]
    else:
        watched = []
        level = MAINTENANCE if indicator == "maintenance" else INDICATOR_LEVEL.get(indicator, 1)
        affected = [c for c in components if COMPONENT_LEVEL.get(str(c.get("status")), 1) != 0]
    verdict = _status(level, opts)

    names = {str(c.get("name")) for c in watched}
    incidents = [
        _incident(i)
        for i in summary.get("incidents") or []
        if isinstance(i, dict) and (not names or _touches(i, names))
    ]
    maintenances = [
        _maintenance(m)
        for m in summary.get("scheduled_maintenances") or []
        if isinstance(m, dict)
        and m.get("status") in ACTIVE_MAINTENANCE
        and (not names or _touches(m, names))
    ]
    page = summary.get("page") if isinstance(summary.get("page"), dict) else {}
    details: dict[str, Any] = {
        "page": page.get("name") or opts.url,
        "indicator": indicator,
        "description": description,
        "summary": _summary(
            page.get("name") or opts.url,
            description,
            watched,
            affected,
            incidents,
            maintenances,
            level,
        ),
        "affected_components": [_component(c) for c in affected],
        "incidents": incidents,
        "maintenances": maintenances,
    }
    if opts.components:
        details["components"] = [_component(c) for c in watched]
    return Observation(
        verdict=verdict,
        http_status=resp.status_code,
        latency_ms=latency_ms,
        connected=True,
        body=resp.content,
        details=details,
    )


def _http_error(resp: Answer, page: str) -> ProbeError:
    status = resp.status_code
    if status == 404:
        return ProbeError(
            ErrorKind.NOT_FOUND, f"no Statuspage v2 summary at {page}{SUMMARY_PATH} (404)"
        )
    if status == 429:
        wait = resp.headers.get("Retry-After")
        return ProbeError(
            "rate_limited",
            "the status page is rate limiting (429)" + (f"; retry after {wait}s" if wait else ""),
        )
    if status in (401, 403):
        return ProbeError(ErrorKind.AUTH, f"the status page is not public ({status})")
    return ProbeError(ErrorKind.HTTP_ERROR, f"the status page answered {status}")


def _watched(components: list[dict[str, Any]], wanted: list[str]) -> list[dict[str, Any]]:
    by_name: dict[str, list[dict[str, Any]]] = {}
    for c in components:
        by_name.setdefault(str(c.get("name", "")).strip().lower(), []).append(c)
    out: list[dict[str, Any]] = []
    for name in wanted:
        found = by_name.get(name.lower())
        if not found:
            known = sorted({str(c.get("name")) for c in components if c.get("name")})
            listed = ", ".join(known[:20]) + (", ..." if len(known) > 20 else "")
            raise ProbeError(
                "not_found", f"component {name!r} is not on the status page (it has: {listed})"
            )
        out.extend(found)
    return out


def _component_level(c: dict[str, Any], components: list[dict[str, Any]]) -> int:
    """A component's level; a group's is the worst of its members'."""
    status = str(c.get("status", ""))
    level = MAINTENANCE if status == "under_maintenance" else COMPONENT_LEVEL.get(status, 1)
    if c.get("group") and c.get("components"):
        members = set(c["components"])
        levels = [level] + [_component_level(m, []) for m in components if m.get("id") in members]
        level = max(levels, key=_severity)
    return level


def _severity(level: int) -> float:
    """Maintenance sorts between `none` and `minor`."""
    return 0.5 if level == MAINTENANCE else float(level)


def _status(level: int, opts: Options) -> Status:
    if level == 0:
        return "up"
    if level == MAINTENANCE or level == 1:
        return "degraded"
    if level == 2 and opts.down_at == "critical":
        return "degraded"
    return "down"


def _touches(event: dict[str, Any], names: set[str]) -> bool:
    """Does an incident or maintenance name one of the watched components (or none at all)?"""
    listed = [c for c in event.get("components") or [] if isinstance(c, dict)]
    if not listed:
        return True
    return any(str(c.get("name")) in names for c in listed)


def _component(c: dict[str, Any]) -> dict[str, Any]:
    return {"name": c.get("name"), "status": c.get("status")}


def _incident(i: dict[str, Any]) -> dict[str, Any]:
    updates = [u for u in i.get("incident_updates") or [] if isinstance(u, dict)]
    latest = updates[0].get("body") if updates else None
    return {
        "name": i.get("name"),
        "status": i.get("status"),
        "impact": i.get("impact"),
        "started_at": i.get("started_at") or i.get("created_at"),
        "shortlink": i.get("shortlink"),
        "latest_update": " ".join(str(latest).split())[:300] if latest else None,
    }


def _maintenance(m: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": m.get("name"),
        "status": m.get("status"),
        "scheduled_for": m.get("scheduled_for"),
        "scheduled_until": m.get("scheduled_until"),
        "shortlink": m.get("shortlink"),
    }


def _summary(
    page: str,
    description: str,
    watched: list[dict[str, Any]],
    affected: list[dict[str, Any]],
    incidents: list[dict[str, Any]],
    maintenances: list[dict[str, Any]],
    level: int,
) -> str:
    named = ", ".join(f"{c.get('name')} {c.get('status')}" for c in affected[:5])
    if len(affected) > 5:
        named += f" and {len(affected) - 5} more"
    if watched:
        head = f"{page}: " + (named or "watched components operational")
    else:
        label = "maintenance" if level == MAINTENANCE else LEVEL_NAME.get(level, "?")
        head = f"{page}: {description or 'no description'} ({label})"
        if named:  # which components, so the on-call engineer knows what is hit
            head += f"; affected: {named}"
    if incidents:
        head += "; incidents: " + "; ".join(str(i["name"]) for i in incidents[:3])
    if maintenances:
        head += "; maintenance: " + "; ".join(str(m["name"]) for m in maintenances[:3])
    return head
