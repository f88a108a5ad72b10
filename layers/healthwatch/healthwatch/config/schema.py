"""The config schema: every key of `checks.yaml`, validated, with its defaults filled in.

Probe types and chat providers add keys of their own: the schema validates them through the
`Plugins` it is given (see `config.loader`), so it never names a type or a provider.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from healthwatch import records
from healthwatch.conditions import Condition, parsed
from healthwatch.durations import parse_duration
from healthwatch.errors import ConditionError
from healthwatch.records import BeforeValidator, Field, field_validator, model_validator, record
from healthwatch.urls import http_url

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler, ValidationInfo
    from pydantic_core import CoreSchema

Duration = Annotated[float, BeforeValidator(parse_duration)]
ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_NAMES = {
    **{d: d for d in _WEEKDAYS},
    **dict(
        zip(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
            _WEEKDAYS,
            strict=True,
        )
    ),
    "day": "day",
}
MAX_THRESHOLD = 100  # consecutive attempts or runs: more would never alert (or resolve)
# EventBridge Scheduler's cron(): minutes hours day-of-month month day-of-week year.
_CRON_FIELDS = (
    ("minutes", r"[0-9,\-*/]+", 0, 59),
    ("hours", r"[0-9,\-*/]+", 0, 23),
    ("day-of-month", r"[0-9,\-*/?LW]+", 1, 31),
    ("month", r"[0-9A-Za-z,\-*/]+", 1, 12),
    ("day-of-week", r"[0-9A-Za-z,\-*/?L#]+", 1, 7),
    ("year", r"[0-9,\-*/]+", 1970, 2199),
)


def schedule_problem(value: str) -> str | None:
    """Why EventBridge Scheduler would refuse `value` (`rate(...)` or six-field `cron(...)`)."""
    rate = _RATE.match(value)
    if rate:
        n, unit = int(rate.group(1)), rate.group(2)
        if n == 0:
            return "a rate must be at least 1"
        if (n == 1) != (not unit.endswith("s")):
            one = unit.rstrip("s")
            return f"write rate(1 {one}) or rate(N {one}s): Scheduler takes no other form"
        return None
    if value.startswith("rate("):
        return "expected rate(N minutes|hours|days)"
    cron = re.fullmatch(r"cron\((.*)\)", value)
    if not cron:
        return "expected rate(N minutes|hours|days) or cron(minutes hours day month weekday year)"
    fields = cron.group(1).split()
    if len(fields) != 6:
        return (
            "cron() takes 6 fields (minutes hours day-of-month month day-of-week year), "
            f"got {len(fields)}"
        )
    for (name, chars, low, high), field in zip(_CRON_FIELDS, fields, strict=True):
        if not re.fullmatch(chars, field):
            return f"cron(): invalid {name} {field!r}"
        for number in re.findall(r"\d+", field.split("#")[0]):
            if not low <= int(number) <= high and not (name == "minutes" and "/" in field):
                return f"cron(): {name} {number} is out of range {low}-{high}"
    if "?" not in (fields[2] + fields[4]):
        return "cron(): day-of-month or day-of-week must be ? (Scheduler takes one of them)"
    if fields[2] == "?" and fields[4] == "?":
        return "cron(): day-of-month and day-of-week cannot both be ?"
    return None


class Registry(Protocol):
    """Plugins found by name (probe types, chat providers), each with its own `Options`."""

    def names(self) -> list[str]: ...

    def options(self, name: str) -> type[Any]:
        """The plugin's `Options` (a pydantic model, or a pydantic dataclass as a probe
        type's is); KeyError naming the known plugins if unknown."""
        ...


class ProbeRegistry(Registry, Protocol):
    def target(self, name: str, options: Any) -> str:
        """What a result's `target` shows for a check of this type (never a secret)."""
        ...


@dataclass(frozen=True)
class Plugins:
    """What a config is validated against: the probe types and the chat providers."""

    probes: ProbeRegistry
    chat: Registry

    def option_keys(self) -> set[str]:
        """Every key some probe type accepts on a check (for "did you mean" hints)."""
        return {k for n in self.probes.names() for k in option_names(self.probes.options(n))}


def option_names(options: type[Any]) -> set[str]:
    """The keys a plugin's `Options` (a record, or a pydantic model) accepts."""
    if records.is_record(options):
        return set(records.names(options))
    return set(options.__pydantic_fields__)


def validate_options(options: type[Any], data: Any) -> Any:
    """A plugin's `Options` (a record, or a pydantic model) from the keys given for it."""
    if records.is_record(options):
        return records.validate(options, data)
    return options.__pydantic_validator__.validate_python(data)


def plugins_of(info: ValidationInfo) -> Plugins:
    plugins = (info.context or {}).get("plugins")
    if not isinstance(plugins, Plugins):
        raise TypeError("a config is validated with context={'plugins': Plugins(...)}")
    return plugins


DEFAULT_CONCURRENCY = 256  # DESIGN.md "Scale": checks in flight at once in one invocation


@record
class Defaults:
    # Checks probed at once within one invocation (a retry waiting holds no slot).
    concurrency: int = Field(default=DEFAULT_CONCURRENCY, ge=1, le=10_000)
    timeout: Duration = 5.0
    failure_threshold: int = Field(default=3, ge=1, le=MAX_THRESHOLD)
    retry_interval: Duration = 10.0
    success_threshold: int = Field(default=1, ge=1, le=MAX_THRESHOLD)
    reminder_interval: Duration = 21600.0


@record
class Slo:
    availability: float = Field(default=99.9, gt=0, le=100)
    latency_p95_ms: float = Field(default=500.0, gt=0)
    error_rate: float = Field(default=0.1, ge=0, le=100)
    # Multi-window burn-rate alert (Google SRE workbook): both windows over the threshold.
    burn_rate_threshold: float = Field(default=14.4, gt=0)
    burn_short_window: Duration = 3600.0
    burn_long_window: Duration = 21600.0


MAX_SHARD_SIZE = 100_000


@record
class TierConfig:
    schedule: str
    deadline: Duration | None = None
    description: str = ""
    # A tier with more checks than this fans out over invocations (DESIGN.md "Scale").
    shard_size: int | None = Field(default=None, ge=1, le=MAX_SHARD_SIZE)

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        problem = schedule_problem(value.strip())
        if problem:
            raise ValueError(problem)
        return value.strip()

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


@record(extra="allow")
class CheckModel:
    """What a check in the file may say, validated: keys beyond these are the probe type's
    own, validated by its `Options` when the check is made a `Check`. The engine never holds
    one: it is only ever validated, through its pydantic model."""

    id: str = Field(pattern=ID_PATTERN, max_length=64)
    name: str = ""
    tier: str
    type: str = "http"
    enabled: bool = True
    severity: Literal["critical", "warning", "info"] = "critical"
    runbook: str | None = None  # a URL shown in every channel of every alert
    links: dict[str, str] = Field(default_factory=dict)  # name -> URL (dashboard, logs)
    conditions: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    timeout: Duration | None = None
    failure_threshold: int | None = Field(default=None, ge=1, le=MAX_THRESHOLD)
    retry_interval: Duration | None = None
    success_threshold: int | None = Field(default=None, ge=1, le=MAX_THRESHOLD)
    reminder_interval: Duration | None = None

    @field_validator("runbook")
    @classmethod
    def _runbook(cls, value: str | None) -> str | None:
        return None if value is None else http_url(value)

    @field_validator("links")
    @classmethod
    def _links(cls, value: dict[str, str]) -> dict[str, str]:
        return {str(name): http_url(str(url)) for name, url in value.items()}

    @field_validator("conditions", "warnings")
    @classmethod
    def _conditions_valid(cls, values: list[str]) -> list[str]:
        for text in values:
            try:
                parsed(text)
            except ConditionError as exc:
                raise ValueError(str(exc)) from None
        return values

    @field_validator("tier", "type")
    @classmethod
    def _shared(cls, value: str) -> str:
        return sys.intern(value)


_FIELDS = records.names(CheckModel)
_NO_LINKS: dict[str, str] = {}


@dataclass(frozen=True, slots=True)
class _Conditions:
    """A check's conditions and warnings, as written and parsed, and what they read."""

    conditions: list[str]
    parsed_conditions: list[Condition]
    warnings: list[str]
    parsed_warnings: list[Condition]
    placeholders: frozenset[str]


# Most checks repeat the same conditions and warnings: one `_Conditions` shared by every
# check that has them, not four lists and a set per check.
_CONDITION_SETS: dict[tuple[tuple[str, ...], tuple[str, ...]], _Conditions] = {}


def _conditions_of(conditions: list[str], warnings: list[str]) -> _Conditions:
    key = (tuple(conditions), tuple(warnings))
    found = _CONDITION_SETS.get(key)
    if found is None:
        texts = [sys.intern(t) for t in conditions]
        warned = [sys.intern(t) for t in warnings]
        made = [parsed(t) for t in texts]
        made_warnings = [parsed(t) for t in warned]
        reads = frozenset(p for c in (*made, *made_warnings) for p in c.placeholders)
        found = _CONDITION_SETS[key] = _Conditions(texts, made, warned, made_warnings, reads)
    return found


class Check:
    """One check as the engine holds it: what `CheckModel` validated and derived, in slots.

    Ten thousand checks are ten thousand of these for the life of a run. A pydantic model
    each kept a dict of its fields, a set of those that were set and a dict of its extra
    keys (about 1.5 KB a check); this keeps a slot per field, and lists the checks share.
    Its fields are read-only by convention: `Config` fills in the defaults, nothing else
    writes them."""

    __slots__ = (
        *_FIELDS,
        "options",
        "target",
        "parsed_conditions",
        "parsed_warnings",
        "placeholders",
    )
    id: str
    name: str
    tier: str
    type: str
    enabled: bool
    severity: Literal["critical", "warning", "info"]
    runbook: str | None
    links: dict[str, str]
    conditions: list[str]
    warnings: list[str]
    timeout: float | None
    failure_threshold: int | None
    retry_interval: float | None
    success_threshold: int | None
    reminder_interval: float | None
    options: Any
    target: str
    parsed_conditions: list[Condition]
    parsed_warnings: list[Condition]
    placeholders: frozenset[str]  # what the conditions read (`BODY`, `CERTIFICATE_EXPIRATION`)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        from pydantic_core import core_schema

        # Validated as a CheckModel (its errors and their locations), then made a Check.
        return core_schema.with_info_after_validator_function(
            cls._of, handler.generate_schema(records.model(CheckModel))
        )

    @classmethod
    def _of(cls, model: Any, info: ValidationInfo) -> Check:
        """The check (from `CheckModel`'s pydantic model), its type's options validated and
        its conditions parsed."""
        from pydantic import ValidationError

        plugins = plugins_of(info)
        try:
            options = plugins.probes.options(model.type)
        except KeyError as exc:
            raise ValueError(str(exc.args[0])) from None
        try:
            opts = validate_options(options, model.model_extra or {})
        except ValidationError as exc:
            hints = plugins.option_keys() | set(_FIELDS)
            problems = (
                option_error(e, f"a check of type {model.type}", hints) for e in exc.errors()
            )
            raise ValueError("; ".join(problems)) from None
        check = cls.__new__(cls)
        values = model.__dict__
        for name in _FIELDS:
            setattr(check, name, values[name])
        check.name = model.name or model.id
        check.links = model.links or _NO_LINKS
        shared = _conditions_of(model.conditions, model.warnings)
        check.conditions, check.parsed_conditions = shared.conditions, shared.parsed_conditions
        check.warnings, check.parsed_warnings = shared.warnings, shared.parsed_warnings
        check.placeholders = shared.placeholders
        check.options = opts
        check.target = plugins.probes.target(model.type, opts)
        return check

    def setting(self, name: str) -> float:
        """Effective value of a `defaults` key (filled in by `Config` on load)."""
        value = getattr(self, name)
        assert value is not None, f"{name} not filled"
        return float(value)

    def __repr__(self) -> str:
        return f"Check(id={self.id!r}, tier={self.tier!r}, type={self.type!r})"


# The `defaults` a check may override (concurrency is the invocation's, not a check's).
PER_CHECK_DEFAULTS = tuple(k for k in records.names(Defaults) if k in _FIELDS)

# Provider name -> that provider's validated `Options` (`notifications.slack`, ...).
Notifications = Mapping[str, Any]


def validate_notifications(raw: Any, chat: Registry) -> Notifications:
    """Each entry of `notifications` through its provider's `Options`."""
    from pydantic import ValidationError

    if not isinstance(raw, dict):
        raise ValueError("expected a mapping of provider name to its settings")
    out: dict[str, Any] = {}
    problems = []
    for name, settings in raw.items():
        try:
            options = chat.options(str(name))
        except KeyError as exc:
            problems.append(f"{name}: {exc.args[0]}")
            continue
        try:
            out[str(name)] = validate_options(options, settings or {})
        except ValidationError as exc:
            keys = option_names(options)
            problems += [f"{name}.{option_error(e, f'{name}', keys)}" for e in exc.errors()]
    if problems:
        raise ValueError("; ".join(problems))
    return out


@record
class MaintenanceWindow:
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
            day = _WEEKDAY_NAMES.get(str(v).strip().lower())
            if day is None:
                raise ValueError(f"unknown weekday {v!r} (mon..sun, monday..sunday, or day)")
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


DEFAULT_PROBE_FUNCTION = "healthwatch-probe"  # template-probe.yaml's function name
_REGION_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@record
class Region:
    """Where checks are probed from: the first entry of `regions` is the home."""

    name: str
    # Where this region's Lambda calls go (a proxy, or a local Invoke API server).
    endpoint_url: str | None = None
    function: str = DEFAULT_PROBE_FUNCTION

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _REGION_NAME.match(value):
            raise ValueError(f"region name {value!r} must match [a-z0-9][a-z0-9-]* (us-east-1)")
        return value

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        return None if value is None else http_url(value)

    @field_validator("function")
    @classmethod
    def _function(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z0-9_:.-]{1,140}$", value):
            raise ValueError(f"not a Lambda function name or ARN: {value!r}")
        return value


def _region_entry(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


@record
class Config:
    version: Literal[1] = 1
    defaults: Defaults = Field(default_factory=lambda: Defaults())
    slo: Slo | None = None
    tiers: dict[str, TierConfig]
    checks: list[Check]
    notifications: Notifications = Field(default_factory=dict)
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)
    # Probe every check from each region (first = home); `down` needs `quorum` of them.
    regions: list[Annotated[Region, BeforeValidator(_region_entry)]] = Field(default_factory=list)
    quorum: int | None = Field(default=None, ge=1)

    @field_validator("notifications", mode="plain")
    @classmethod
    def _notifications(cls, value: Any, info: ValidationInfo) -> Notifications:
        return validate_notifications(value, plugins_of(info).chat)

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
            for key in PER_CHECK_DEFAULTS:
                if getattr(check, key) is None:
                    setattr(check, key, getattr(self.defaults, key))
        names = [r.name for r in self.regions]
        for i, name in enumerate(names):
            if name in names[:i]:
                problems.append(f"regions[{i}].name: duplicate region {name!r}")
        if self.quorum is not None and not self.regions:
            problems.append("quorum: needs `regions` (a single region decides alone)")
        elif self.quorum is not None and self.quorum > len(self.regions):
            problems.append(
                f"quorum: {self.quorum} is more than the {len(self.regions)} regions configured"
            )
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


def option_error(err: Any, owner: str, hints: set[str]) -> str:
    """One line for a plugin option's error: `field: message`, with a hint for a typo."""
    field = format_loc(list(err["loc"]))
    if err["type"] in ("extra_forbidden", "unexpected_keyword_argument"):  # model, dataclass
        hint = suggest(str(err["loc"][-1]), hints)
        extra = f" (did you mean {hint!r}?)" if hint else ""
        return f"{field}: unknown key for {owner}{extra}"
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{field}: {msg}"


def format_loc(loc: list[Any]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "(top level)"


def suggest(key: str, known: set[str]) -> str | None:
    import difflib

    match = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.8)
    return match[0] if match else None
