"""Load and validate `checks.yaml`; every error names the field, the check and the line."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from healthwatch import probes
from healthwatch.conditions import Condition, parsed
from healthwatch.durations import parse_duration
from healthwatch.errors import ConditionError, ConfigError

Duration = Annotated[float, BeforeValidator(parse_duration)]
ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class Defaults(Strict):
    timeout: Duration = 5.0
    failure_threshold: int = Field(default=3, ge=1)
    retry_interval: Duration = 10.0
    success_threshold: int = Field(default=1, ge=1)
    reminder_interval: Duration = 21600.0


class Slo(Strict):
    availability: float = Field(default=99.9, gt=0, le=100)
    latency_p95_ms: float = Field(default=500.0, gt=0)
    error_rate: float = Field(default=0.1, ge=0, le=100)
    # Multi-window burn-rate alert (Google SRE workbook): both windows over the threshold.
    burn_rate_threshold: float = Field(default=14.4, gt=0)
    burn_short_window: Duration = 3600.0
    burn_long_window: Duration = 21600.0


class TierConfig(Strict):
    schedule: str
    deadline: Duration | None = None
    description: str = ""

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        if not (_RATE.match(value) or value.startswith("cron(")):
            raise ValueError("expected rate(N minutes|hours|days) or cron(...)")
        if (m := _RATE.match(value)) and int(m.group(1)) == 0:
            raise ValueError("a rate must be at least 1")
        return value

    @property
    def period_seconds(self) -> float | None:
        m = _RATE.match(self.schedule)
        if not m:
            return None
        unit = {"m": 60, "h": 3600, "d": 86400}[m.group(2)[0]]
        return int(m.group(1)) * unit

    @property
    def effective_deadline(self) -> float:
        """The whole tier's budget: as set, else 4 minutes (the quick Lambda's timeout is 5)."""
        if self.deadline:
            return self.deadline
        return 240.0


class Check(Strict):
    """One check. Keys beyond these are the probe type's own, validated by its `Options`."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(pattern=ID_PATTERN, max_length=64)
    name: str = ""
    tier: str
    type: str = "http"
    enabled: bool = True
    severity: Literal["critical", "warning", "info"] = "critical"
    conditions: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    timeout: Duration | None = None
    failure_threshold: int | None = Field(default=None, ge=1)
    retry_interval: Duration | None = None
    success_threshold: int | None = Field(default=None, ge=1)
    reminder_interval: Duration | None = None

    _options: Any = PrivateAttr(default=None)
    _conditions: list[Condition] = PrivateAttr(default_factory=list)
    _warnings: list[Condition] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _type_options(self) -> Check:
        try:
            module = probes.get(self.type)
        except KeyError as exc:
            raise ValueError(str(exc.args[0])) from None
        try:
            self._options = module.Options.model_validate(self.model_extra or {})
        except ValidationError as exc:
            raise ValueError("; ".join(_option_error(e, self.type) for e in exc.errors())) from None
        if not self.name:
            self.name = self.id
        self._conditions = [parsed(c) for c in self.conditions]
        self._warnings = [parsed(c) for c in self.warnings]
        return self

    @field_validator("conditions", "warnings")
    @classmethod
    def _conditions_valid(cls, values: list[str]) -> list[str]:
        for text in values:
            try:
                parsed(text)
            except ConditionError as exc:
                raise ValueError(str(exc)) from None
        return values

    @property
    def options(self) -> Any:
        return self._options

    @property
    def parsed_conditions(self) -> list[Condition]:
        return self._conditions

    @property
    def parsed_warnings(self) -> list[Condition]:
        return self._warnings

    @property
    def target(self) -> str:
        return str(probes.get(self.type).target(self._options))

    def setting(self, name: str) -> float:
        """Effective value of a `defaults` key (filled in by `Config` on load)."""
        value = getattr(self, name)
        assert value is not None, f"{name} not filled"
        return float(value)


class SlackConfig(Strict):
    webhook_url: str
    channel: str | None = None
    username: str | None = None


class DiscordConfig(Strict):
    webhook_url: str
    username: str | None = None


class Notifications(Strict):
    slack: SlackConfig | None = None
    discord: DiscordConfig | None = None


class MaintenanceWindow(Strict):
    """One-off (`start` + `end`) or weekly (`every` + `at` + `duration`) in `timezone`."""

    name: str = "maintenance"
    checks: list[str] = Field(default_factory=list)  # empty: every check
    tiers: list[str] = Field(default_factory=list)  # empty: every tier
    timezone: str = "UTC"
    start: datetime | None = None
    end: datetime | None = None
    every: list[str] = Field(default_factory=list)  # weekdays: mon..sun, or "day"
    at: str | None = None  # "HH:MM" local time
    duration: Duration | None = None

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("every")
    @classmethod
    def _days(cls, values: list[str]) -> list[str]:
        out = []
        for v in values:
            day = v.strip().lower()[:3]
            if day not in _WEEKDAYS and day != "day":
                raise ValueError(f"unknown weekday {v!r} (mon..sun or day)")
            out.append(day)
        return out

    @field_validator("at")
    @classmethod
    def _at(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError("expected HH:MM (24-hour)")
        return value

    @model_validator(mode="after")
    def _shape(self) -> MaintenanceWindow:
        one_off = self.start is not None or self.end is not None
        weekly = bool(self.every) or self.at is not None or self.duration is not None
        if one_off == weekly:
            raise ValueError(
                "set either start and end (one-off) or every, at and duration (weekly)"
            )
        if one_off and (self.start is None or self.end is None or self.end <= self.start):
            raise ValueError("a one-off window needs start and end, end after start")
        if weekly and (not self.every or self.at is None or not self.duration):
            raise ValueError("a weekly window needs every, at and duration")
        return self


class Config(Strict):
    version: Literal[1] = 1
    defaults: Defaults = Field(default_factory=lambda: Defaults())
    slo: Slo | None = None
    tiers: dict[str, TierConfig]
    checks: list[Check]
    notifications: Notifications = Field(default_factory=lambda: Notifications())
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)

    @field_validator("tiers")
    @classmethod
    def _tier_names(cls, tiers: dict[str, TierConfig]) -> dict[str, TierConfig]:
        if not tiers:
            raise ValueError("at least one tier is required")
        for name in tiers:
            if not re.match(ID_PATTERN, name):
                raise ValueError(f"tier name {name!r} must match [a-z0-9][a-z0-9-]*")
        return tiers

    @model_validator(mode="after")
    def _cross_checks(self) -> Config:
        seen: set[str] = set()
        problems = []
        for i, check in enumerate(self.checks):
            if check.id in seen:
                problems.append(f"checks[{i}].id: duplicate check id {check.id!r}")
            seen.add(check.id)
            if check.tier not in self.tiers:
                problems.append(
                    f"checks[{i}].tier: unknown tier {check.tier!r} for check {check.id!r} "
                    f"(tiers: {', '.join(self.tiers)})"
                )
            for key in Defaults.model_fields:
                if getattr(check, key) is None:
                    setattr(check, key, getattr(self.defaults, key))
        for i, window in enumerate(self.maintenance):
            for cid in window.checks:
                if cid not in seen:
                    problems.append(f"maintenance[{i}].checks: unknown check {cid!r}")
            for tier in window.tiers:
                if tier not in self.tiers:
                    problems.append(f"maintenance[{i}].tiers: unknown tier {tier!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def checks_for(self, tier: str) -> list[Check]:
        if tier not in self.tiers:
            raise KeyError(f"unknown tier {tier!r} (tiers: {', '.join(self.tiers)})")
        return [c for c in self.checks if c.tier == tier and c.enabled]

    def check(self, check_id: str) -> Check:
        for c in self.checks:
            if c.id == check_id:
                return c
        raise KeyError(f"unknown check {check_id!r}")


def load_config(path: str | Path) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read the file: {exc.strerror}"]) from None
    return parse_config(text, str(path))


def parse_config(text: str, source: str = "<config>") -> Config:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ConfigError(
            source, [f"{where}not valid YAML ({getattr(exc, 'problem', exc)})"]
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(source, ["the file must be a mapping with `tiers` and `checks`"])
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, _describe(exc, data, text)) from None


def _describe(exc: ValidationError, data: dict[str, Any], text: str) -> list[str]:
    lines = _line_index(text)
    out = []
    for err in exc.errors():
        loc = list(err["loc"])
        # Errors in a check's type options come back under the model-validator; pydantic
        # nests them in the message, so keep the location we have.
        field = _format_loc(loc)
        who = ""
        if len(loc) >= 2 and loc[0] == "checks" and isinstance(loc[1], int):
            checks = data.get("checks") or []
            if loc[1] < len(checks) and isinstance(checks[loc[1]], dict):
                cid = checks[loc[1]].get("id")
                if cid:
                    who = f" (check {cid!r})"
        line = lines.get(tuple(loc))
        inner = re.match(r"^Value error, ([A-Za-z_]\w*)[:\[.]", str(err["msg"]))
        if inner and (*loc, inner.group(1)) in lines:  # a probe option: point at its own line
            line = lines[(*loc, inner.group(1))]
        if line is None:
            for n in range(len(loc) - 1, 0, -1):
                line = lines.get(tuple(loc[:n]))
                if line is not None:
                    break
        where = f"line {line}: " if line else ""
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = f"unknown key {loc[-1]!r}"
            suggestion = _suggest(str(loc[-1]))
            if suggestion:
                msg += f" (did you mean {suggestion!r}?)"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        out.append(f"{where}{field}{who}: {msg}")
    return out


def _option_error(err: Any, type_name: str) -> str:
    field = _format_loc(list(err["loc"]))
    if err["type"] == "extra_forbidden":
        hint = _suggest(str(err["loc"][-1]))
        extra = f" (did you mean {hint!r}?)" if hint else ""
        return f"{field}: unknown key for a check of type {type_name}{extra}"
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{field}: {msg}"


def _format_loc(loc: list[Any]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "(top level)"


_KNOWN_KEYS = (
    set(Defaults.model_fields) | set(Check.model_fields) | {"url", "method", "headers", "body"}
)


def _suggest(key: str) -> str | None:
    import difflib

    match = difflib.get_close_matches(key, sorted(_KNOWN_KEYS), n=1, cutoff=0.8)
    return match[0] if match else None


def _line_index(text: str) -> dict[tuple[Any, ...], int]:
    """Map every key path in the YAML document to its 1-based line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    index: dict[tuple[Any, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[Any, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = key_node.value
                index[(*path, key)] = key_node.start_mark.line + 1
                walk(value_node, (*path, key))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                index[(*path, i)] = item.start_mark.line + 1
                walk(item, (*path, i))

    if root is not None:
        walk(root, ())
    return index
