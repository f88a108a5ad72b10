"""`flyio`: a Fly.io app's Machines, their states and health checks; optionally restarts one."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote, urlencode

from healthwatch.durations import format_duration, parse_duration
from healthwatch.errors import ErrorKind, ProbeError
from healthwatch.models import Status, iso, parse_iso, worst
from healthwatch.probes import Category, Observation, ProbeContext, options
from healthwatch.probes._vendor import USER_AGENT, Answer, ms_since, timed_request
from healthwatch.records import BeforeValidator, Field, field_validator
from healthwatch.urls import http_url

if TYPE_CHECKING:
    from healthwatch.config import Check

CATEGORY = Category.PLATFORM

Duration = Annotated[float, BeforeValidator(parse_duration)]

# Machine states (https://fly.io/docs/machines/machine-states/).
GONE = frozenset({"destroyed", "destroying", "replaced", "migrated"})
FAILED = frozenset({"failed", "launch_failed"})
IDLE = frozenset({"stopped", "suspended", "created"})
TRANSIENT = frozenset(
    {"creating", "starting", "stopping", "restarting", "suspending", "updating", "replacing"}
)
# Process groups of one-off machines the platform runs (release command, console, test).
EPHEMERAL_GROUPS = frozenset(
    {"fly_app_release_command", "fly_app_console", "fly_app_test_machine_command"}
)
OUTPUT_CHARS = 300
ERROR_CHARS = 200


@options
class Options:
    app: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    # A reference such as ${secret:hotdash/fly-api-token}; `fly tokens create readonly`
    # is enough to watch, `fly tokens create deploy` is needed for `restart_after`.
    token: str = "${env:FLY_API_TOKEN}"
    base_url: str = "https://api.machines.dev"
    region: str | None = None
    process_group: str | None = None
    transient_threshold: Duration = 600.0
    restart_after: int | None = Field(None, ge=1)
    restart_cooldown: Duration = 3600.0
    ignore_stopped: bool = False

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return http_url(value).rstrip("/").removesuffix("/v1")


def target(options: Options) -> str:
    return f"fly://{options.app}"


async def probe(check: Check, ctx: ProbeContext) -> Observation:
    """List the app's Machines; judge states and checks; restart a machine stuck critical."""
    opts: Options = check.options
    token = ctx.secrets.resolve(opts.token).strip()
    if not token:
        raise ProbeError(ErrorKind.AUTH, "the Fly API token is empty")
    ctx.secrets.remember(token)
    api = _Api(ctx, opts, token)

    start = time.perf_counter()
    resp = await api.call("GET", "/machines", params=_filters(opts))
    latency_ms = ms_since(start)
    try:
        listed = resp.json()
    except ValueError:
        raise ProbeError(
            ErrorKind.INVALID_JSON, "the Machines API answered with something not JSON"
        ) from None
    if not isinstance(listed, list):
        raise ProbeError(ErrorKind.INVALID_JSON, "expected a list of machines")

    now = ctx.now()
    machines = [_Machine(m) for m in listed if isinstance(m, dict)]
    machines = [m for m in machines if _watched(m, opts)]
    for m in machines:
        m.judge(now, opts)

    verdict, summary = _verdict(machines, opts)
    # The engine copies actions into the result's details (`actions`) and into the alert.
    actions: list[dict[str, Any]] = []
    if opts.restart_after is not None:
        actions = await _remediate(machines, ctx, api, check, opts, now)
        if actions:
            summary += "; " + "; ".join(_describe(a) for a in actions)

    details: dict[str, Any] = {
        "app": opts.app,
        "summary": summary,
        "counts": _counts(machines),
        "machines": [m.summary(remediation=opts.restart_after is not None) for m in machines],
    }
    if verdict != "up":
        details["action"] = next_steps(opts.app, [m for m in machines if m.status == verdict])
    return Observation(
        verdict=verdict,
        http_status=resp.status_code,
        latency_ms=latency_ms,
        connected=True,
        body=json.dumps(details).encode(),
        details=details,
        actions=actions,
    )


def next_steps(app: str, bad: list[_Machine]) -> str:
    """The fly commands for the machine concerned (the first one in trouble)."""
    steps = [f"fly status -a {app}"]
    if bad:
        steps += [
            f"fly logs -a {app} --machine {bad[0].id}",
            f"fly machine restart {bad[0].id} -a {app}",
        ]
    return "; then ".join(steps)


class _Api:
    """The few Machines API calls the probe makes, with Fly's errors made readable."""

    def __init__(self, ctx: ProbeContext, opts: Options, token: str) -> None:
        self.ctx = ctx
        self.opts = opts
        self._token = token
        scheme = "" if token.startswith("FlyV1 ") else "Bearer "  # macaroons carry their own
        self._headers = {
            "Authorization": scheme + token,
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }

    async def call(self, method: str, path: str, params: dict[str, str] | None = None) -> Answer:
        url = f"{self.opts.base_url}/v1/apps/{quote(self.opts.app, safe='')}{path}"
        if params:
            url += "?" + urlencode(params)
        try:
            resp, _ = await timed_request(self.ctx, url, dict(self._headers), method=method)
        except ProbeError as exc:
            raise ProbeError(exc.kind, f"Fly Machines API: {exc.message}") from None
        if resp.status_code >= 400:
            raise self._error(resp)
        return resp

    def _error(self, resp: Answer) -> ProbeError:
        status = resp.status_code
        said = self._vendor_message(resp)
        quoted = f" (Fly: {said})" if said else ""
        if status == 401:
            return ProbeError(
                ErrorKind.AUTH,
                f"the Fly API token was rejected (401){quoted}; check the token's secret",
            )
        if status == 403:
            return ProbeError(
                ErrorKind.AUTH,
                f"the Fly API token may not access app {self.opts.app!r} (403){quoted}",
            )
        if status == 404:
            return ProbeError(
                ErrorKind.NOT_FOUND, f"no Fly app {self.opts.app!r} for this token (404){quoted}"
            )
        if status == 429:
            wait = resp.headers.get("Retry-After")
            after = f"; retry after {wait}s" if wait else ""
            return ProbeError(
                ErrorKind.RATE_LIMITED, f"the Fly Machines API is rate limiting (429){after}"
            )
        return ProbeError(ErrorKind.HTTP_ERROR, f"the Fly Machines API answered {status}{quoted}")

    def _vendor_message(self, resp: Answer) -> str:
        """Fly's `{"error": "..."}` text, shortened, with the token taken out if echoed."""
        try:
            body = resp.json()
        except ValueError:
            text = resp.text.strip()
            body = {"error": text} if text and not text.startswith("<") else {}
        said = body.get("error") if isinstance(body, dict) else None
        if not isinstance(said, str):
            return ""
        said = " ".join(said.split())[:ERROR_CHARS]
        return said.replace(self._token, "***") if self._token else said


class _Machine:
    """One machine from the list, and what the probe made of it."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.id = str(raw.get("id") or "")
        self.name = str(raw.get("name") or "")
        self.state = str(raw.get("state") or "unknown")
        self.region = str(raw.get("region") or "")
        config = raw.get("config") or raw.get("incomplete_config") or {}
        self.config: dict[str, Any] = config if isinstance(config, dict) else {}
        metadata = self.config.get("metadata") or {}
        self.process_group = str(
            metadata.get("fly_process_group") or metadata.get("process_group") or ""
        )
        services = [s for s in self.config.get("services") or [] if isinstance(s, dict)]
        self.autostart = any(s.get("autostart") is True for s in services)
        self.autostop = _autostop(services)
        self.standby_for = [str(s) for s in self.config.get("standbys") or []]
        self.checks = [
            c
            for c in raw.get("checks") or []
            if isinstance(c, dict)
            and not str(c.get("name", "")).startswith("bg_deployments_compat")
        ]
        self.status: Status = "up"
        self.reason = ""
        self.serving = False  # takes traffic now or when the proxy wakes it
        self.critical = False
        self.memory: dict[str, Any] = {}

    def checks_with(self, status: str, output: bool = False) -> list[str]:
        out = []
        for c in self.checks:
            if c.get("status") != status:
                continue
            name = str(c.get("name") or "?")
            said = " ".join(str(c.get("output") or "").split())
            if output and said:
                name += f" ({said[:80]}{'…' if len(said) > 80 else ''})"
            out.append(name)
        return out

    def judge(self, now: datetime, opts: Options) -> None:
        host = self.raw.get("host_status")
        if self.state == "started":
            critical = self.checks_with("critical", output=True)
            warning = self.checks_with("warning", output=True)
            if critical:
                self.status, self.critical = "down", True
                self.reason = f"checks critical: {', '.join(critical)}"
            elif warning:
                self.status, self.serving = "degraded", True
                self.reason = f"checks warning: {', '.join(warning)}"
            else:
                self.serving = True
                self.reason = "started, checks passing" if self.checks else "started (no checks)"
        elif self.state in IDLE:
            if self.standby_for:
                self.reason = f"{self.state}, standby for {', '.join(self.standby_for)}"
            elif self.autostart:
                self.serving = True
                self.reason = f"{self.state}, autostart on"
            else:
                self.status = "degraded"
                self.reason = f"{self.state}, autostart off: takes no traffic"
        elif self.state in FAILED:
            self.status, self.reason = "down", f"{self.state}"
        elif self.state in TRANSIENT:
            since = _parse_time(self.raw.get("updated_at"))
            stuck = (now - since).total_seconds() if since else 0.0
            if stuck > opts.transient_threshold:
                self.status = "down"
                self.reason = f"stuck {self.state} for {format_duration(stuck)}"
            else:
                self.status, self.serving = "degraded", True
                self.reason = f"{self.state} (for {format_duration(stuck)})"
        else:
            self.status, self.reason = "degraded", f"unknown state {self.state!r}"
        if host not in (None, "", "ok"):
            self.status = worst(self.status, "degraded")
            self.reason += f"; host {host}"

    def label(self) -> str:
        return f"{self.id} ({self.region})" if self.region else self.id

    def summary(self, remediation: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "region": self.region,
            "state": self.state,
            "status": self.status,
            "reason": self.reason,
            "process_group": self.process_group or None,
            "autostart": self.autostart,
            "autostop": self.autostop,
            "updated_at": self.raw.get("updated_at"),
            "image": _image(self.raw.get("image_ref")),
            "checks": [
                {
                    "name": c.get("name"),
                    "status": c.get("status"),
                    "output": _clip(c.get("output")),
                    "updated_at": c.get("updated_at"),
                }
                for c in self.checks
            ],
        }
        if self.raw.get("host_status") not in (None, "", "ok"):
            out["host_status"] = self.raw.get("host_status")
        if remediation:
            out["critical_runs"] = int(self.memory.get("critical_runs", 0))
            if self.memory.get("last_restart_at"):
                out["last_restart_at"] = self.memory["last_restart_at"]
        return out


def _filters(opts: Options) -> dict[str, str] | None:
    return {"region": opts.region} if opts.region else None


def _watched(m: _Machine, opts: Options) -> bool:
    if m.state in GONE:
        return False
    if opts.region and m.region != opts.region:
        return False
    if opts.process_group is not None:
        return m.process_group == opts.process_group
    return m.process_group not in EPHEMERAL_GROUPS


def _verdict(machines: list[_Machine], opts: Options) -> tuple[Status, str]:
    """The app's status from its machines', and one line a person can act on."""
    if not machines:
        scope = f" in region {opts.region}" if opts.region else ""
        group = f" in process group {opts.process_group!r}" if opts.process_group else ""
        return "down", f"no machines{scope}{group}"
    verdict: Status = worst(*(m.status for m in machines))
    bad = [m for m in machines if m.status == verdict and verdict != "up"]
    summary = "; ".join(f"machine {m.label()}: {m.reason}" for m in bad[:3])
    if len(bad) > 3:
        summary += f"; and {len(bad) - 3} more"
    if not any(m.serving for m in machines):
        return "down", "no machine can take traffic" + (f": {summary}" if summary else "")
    if verdict == "up":
        started = [m for m in machines if m.state == "started"]
        idle = [m for m in machines if m.state in IDLE and m.autostart and not m.standby_for]
        if not started and idle and not opts.ignore_stopped:
            states = "/".join(sorted({m.state for m in idle}))
            return "degraded", (
                f"scaled to zero: {len(idle)} machine(s) {states}, autostart on "
                "(the next request pays a cold start)"
            )
        noun = "machine" if len(started) == 1 else "machines"
        extra = f", {len(idle)} idle with autostart" if idle else ""
        return "up", f"{len(started)} {noun} started, checks passing{extra}"
    return verdict, summary


async def _remediate(
    machines: list[_Machine],
    ctx: ProbeContext,
    api: _Api,
    check: Check,
    opts: Options,
    now: datetime,
) -> list[dict[str, Any]]:
    """Count runs each machine stays critical; restart it after `restart_after`, once per cooldown.

    A run is a run id: the engine's re-probes within one run share it, so retries never
    count twice, while runs seconds apart (someone re-running the tier during an incident)
    each count. Without a run id (a probe called on its own), observations closer together
    than one run's retries count as the same run.
    """
    assert opts.restart_after is not None
    store: dict[str, Any] = ctx.memory.setdefault("machines", {})
    same_run = _retry_window(check)
    cooldown = timedelta(seconds=opts.restart_cooldown)
    actions: list[dict[str, Any]] = []
    seen = set()
    for m in machines:
        seen.add(m.id)
        entry: dict[str, Any] = store.setdefault(m.id, {})
        m.memory = entry
        if not m.critical:
            entry.pop("critical_runs", None)
            entry.pop("critical_seen_at", None)
            entry.pop("critical_run_id", None)
            continue
        last_seen = _parse_time(entry.get("critical_seen_at"))
        if ctx.run_id:
            new_run = entry.get("critical_run_id") != ctx.run_id
        else:
            new_run = last_seen is None or (now - last_seen).total_seconds() > same_run
        if new_run:
            entry["critical_runs"] = int(entry.get("critical_runs", 0)) + 1
            entry["critical_seen_at"] = iso(now)
            if ctx.run_id:
                entry["critical_run_id"] = ctx.run_id
        runs = int(entry["critical_runs"])
        if runs < opts.restart_after:
            continue
        last_restart = _parse_time(entry.get("last_restart_at"))
        if last_restart is not None and now - last_restart < cooldown:
            continue
        actions.append(await _restart(m, api, runs, now))
        entry["last_restart_at"] = iso(now)
        entry["critical_runs"] = 0
    for machine_id in list(store):
        entry = store[machine_id]
        if machine_id in seen:
            if not entry:
                del store[machine_id]
            continue
        last_restart = _parse_time(entry.get("last_restart_at"))
        if last_restart is None or now - last_restart >= cooldown:
            del store[machine_id]
    return actions


async def _restart(m: _Machine, api: _Api, runs: int, now: datetime) -> dict[str, Any]:
    action: dict[str, Any] = {
        "action": "restart",
        "machine_id": m.id,
        "machine_name": m.name,
        "region": m.region,
        "reason": f"checks critical for {runs} runs: {', '.join(m.checks_with('critical'))}",
        "at": iso(now),
    }
    try:
        resp = await api.call("POST", f"/machines/{quote(m.id, safe='')}/restart")
    except ProbeError as exc:
        action.update(ok=False, error=f"{exc.kind}: {exc.message}")
    else:
        action.update(ok=True, http_status=resp.status_code)
    return action


def _describe(action: dict[str, Any]) -> str:
    if action.get("ok"):
        return f"restarted machine {action['machine_id']}"
    return f"restart of machine {action['machine_id']} failed ({action.get('error')})"


def _retry_window(check: Check) -> float:
    """Longest a run's retries can take: attempts x (interval + timeout), at most 5 minutes."""
    threshold = float(getattr(check, "failure_threshold", None) or 3)
    interval = float(getattr(check, "retry_interval", None) or 10.0)
    timeout = float(getattr(check, "timeout", None) or 5.0)
    return min(threshold * (interval + timeout), 300.0)


def _counts(machines: list[_Machine]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for m in machines:
        counts[m.state] = counts.get(m.state, 0) + 1
    return counts


def _autostop(services: list[dict[str, Any]]) -> str | None:
    """`off`, `stop` or `suspend`; the API answers booleans for the first two."""
    modes = []
    for s in services:
        value = s.get("autostop")
        if value is True:
            modes.append("stop")
        elif value is False:
            modes.append("off")
        elif isinstance(value, str):
            modes.append(value)
    return modes[0] if modes else None


def _image(ref: Any) -> str | None:
    if not isinstance(ref, dict) or not ref.get("repository"):
        return None
    name = (
        f"{ref.get('registry')}/{ref['repository']}" if ref.get("registry") else ref["repository"]
    )
    return f"{name}:{ref['tag']}" if ref.get("tag") else name


def _clip(text: Any) -> str | None:
    if text is None:
        return None
    text = str(text).strip()
    return text if len(text) <= OUTPUT_CHARS else text[: OUTPUT_CHARS - 1] + "…"


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_iso(value)
    except ValueError:
        return None
