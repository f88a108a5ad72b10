"""What the Lambda handlers share: the tier of an event, metrics, tracing, log routing."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from healthwatch.errors import ConfigError, UnknownTierError

if TYPE_CHECKING:
    from healthwatch.config import Config
    from healthwatch.engine.shards import Shard
    from healthwatch.models import TierRun
    from healthwatch.runtime.settings import AwsSettings
    from healthwatch.secrets import Secrets

F = TypeVar("F", bound=Callable[..., Any])
MAX_SHARDS = 1000  # Lambda's default concurrency per account and region
MAX_ATTEMPTS = 100  # the config's failure_threshold bound


def served_tiers(config: Config, env: AwsSettings) -> tuple[str, ...]:
    """The tiers this function runs; a tier the config lacks is a cold-start error."""
    unknown = [t for t in env.tiers if t not in config.tiers]
    if unknown:
        raise ConfigError(
            "environment",
            [
                f"HEALTHWATCH_TIERS: {', '.join(map(repr, unknown))} not in the config "
                f"(tiers: {', '.join(config.tiers)})"
            ],
        )
    return env.tiers or tuple(config.tiers)


def check_home(config: Config, env: AwsSettings) -> None:
    """The first of `regions` is where the home stack runs: a function deployed elsewhere
    would record its own observations under another region's name."""
    if config.regions and env.region and env.region != config.regions[0].name:
        raise ConfigError(
            "environment",
            [
                f"regions[0]: the home region is {config.regions[0].name!r} but this function "
                f"runs in {env.region!r} (AWS_REGION): list {env.region!r} first"
            ],
        )


def tier_from_event(event: Any, served: Sequence[str]) -> str:
    """The tier an event asks for.

    EventBridge Scheduler (and a rule with a constant input) sends `{"tier": "quick"}`; a
    classic "Scheduled Event" names its rule, whose name must end with the tier
    (`healthwatch-quick`) unless its detail carries `{"tier": ...}`.
    """
    tier: Any = None
    if isinstance(event, Mapping):
        tier = event.get("tier")
        if tier is None and event.get("detail-type") == "Scheduled Event":
            from aws_lambda_powertools.utilities.data_classes.event_bridge_event import (
                EventBridgeEvent,
            )

            scheduled = EventBridgeEvent(dict(event))
            detail = scheduled.detail if isinstance(scheduled.detail, dict) else {}
            tier = detail.get("tier") or _tier_of_rules(scheduled.resources, served)
            if tier is None:
                raise UnknownTierError(
                    f"cannot tell the tier of a Scheduled Event from {scheduled.resources}: "
                    f"name the rule after a tier (e.g. healthwatch-{served[0]}) or give its "
                    f'target the input {{"tier": "{served[0]}"}}'
                )
    if not isinstance(tier, str) or not tier:
        raise UnknownTierError(
            'expected {"tier": "<name>"} (EventBridge Scheduler) or a Scheduled Event from a '
            f"rule named after a tier; tiers: {', '.join(served)}"
        )
    if tier not in served:
        raise UnknownTierError(f"unknown tier {tier!r}: this function runs {', '.join(served)}")
    return tier


_RUN_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,80}-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z-[0-9a-f]{4}$")


def shard_from_event(event: Any) -> tuple[Shard | None, str | None]:
    """The shard and run id an invocation by shard 0 carries (`{"tier", "shard", "shards",
    "run_id"}`); `(None, None)` for a scheduled event. A shard takes `shards` from its event
    and never recomputes it: the config may have changed since shard 0 split the tier."""
    from healthwatch.engine.shards import Shard

    if not isinstance(event, Mapping) or "shard" not in event:
        return None, None
    index, count, run_id = event.get("shard"), event.get("shards"), event.get("run_id")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (index, count)):
        raise UnknownTierError(f"a shard event needs integer shard and shards: {dict(event)!r}")
    assert isinstance(index, int) and isinstance(count, int)
    if not (1 <= count <= MAX_SHARDS and 0 <= index < count):
        raise UnknownTierError(f"shard {index} of {count} does not exist")
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        raise UnknownTierError(f"a shard event needs the run_id of shard 0, got {run_id!r}")
    return Shard(index, count), run_id


def probe_request(event: Any, config: Config) -> tuple[str, list[str], str, dict[str, int]]:
    """`{"tier", "check_ids", "run_id"}` (and the home's optional `attempts` per check), as
    the home region sends it to a probe function."""
    if not isinstance(event, Mapping):
        raise UnknownTierError(f"a probe event is an object, got {type(event).__name__}")
    tier, ids, run_id = event.get("tier"), event.get("check_ids"), event.get("run_id")
    if not isinstance(tier, str) or tier not in config.tiers:
        raise UnknownTierError(f"unknown tier {tier!r} (tiers: {', '.join(config.tiers)})")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise UnknownTierError("check_ids must be a list of check ids")
    if not isinstance(run_id, str) or not run_id:
        raise UnknownTierError("a probe event needs the home's run_id")
    raw = event.get("attempts") or {}
    attempts = {
        str(k): max(1, min(int(v), MAX_ATTEMPTS))
        for k, v in (raw.items() if isinstance(raw, Mapping) else ())
        if isinstance(v, int) and not isinstance(v, bool)
    }
    return tier, ids, run_id, attempts


def _tier_of_rules(resources: Sequence[str], tiers: Sequence[str]) -> str | None:
    for arn in resources:
        name = arn.rsplit("/", 1)[-1].lower()
        tokens = re.split(r"[-_.]", name)
        matches = [t for t in tiers if tokens[-1] == t or t in tokens]
        if not matches:
            matches = [t for t in tiers if t in name]
        if matches:
            return max(matches, key=len)
    return None


# Kept back from Lambda's remaining time for what follows delivery (summaries, the status
# page, metrics): the time budget of one run's tail.
TAIL_RESERVE_S = 15.0


def time_left(context: Any) -> Callable[[], float] | None:
    """Seconds the run may still spend on deliveries, from the Lambda context."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    return lambda: remaining() / 1000.0 - TAIL_RESERVE_S


def record_metrics(metrics: Any, run: TierRun) -> None:
    """EMF metrics of a run: per tier on `metrics` (flushed by its decorator), and one
    document per check (dimensions tier, check_id) printed now."""
    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

    counts = run.counts()
    metrics.add_dimension("tier", run.tier)
    # Each shard reports its share: a period's sum is 1 only when every shard ran (the
    # heartbeat alarm, a Sum under 1, sees a shard that never ran).
    metrics.add_metric("Heartbeat", MetricUnit.Count, 1 / run.shards)
    metrics.add_metric("TierDuration", MetricUnit.Milliseconds, run.duration_ms)
    metrics.add_metric("ChecksDown", MetricUnit.Count, counts["down"])
    metrics.add_metric("ChecksDegraded", MetricUnit.Count, counts["degraded"])
    metrics.add_metric("Alerts", MetricUnit.Count, len(run.delivered))
    metrics.add_metric("UndeliveredAlerts", MetricUnit.Count, len(run.undelivered))
    for result in run.results:
        check = EphemeralMetrics()
        check.add_dimension("tier", run.tier)
        check.add_dimension("check_id", result.check_id)
        check.add_metric("CheckUp", MetricUnit.Count, 0 if result.status == "down" else 1)
        if result.latency_ms is not None:
            check.add_metric("CheckLatency", MetricUnit.Milliseconds, result.latency_ms)
        check.flush_metrics()


def tracing(env: AwsSettings) -> Callable[[F], F]:
    """Powertools Tracer's handler decorator when tracing is on; otherwise nothing (the X-Ray
    SDK is not even imported: it costs about a quarter of a second of cold start)."""
    if not (env.tracing or os.environ.get("POWERTOOLS_TRACE_ENABLED", "").lower() == "true"):
        return lambda handler: handler
    from aws_lambda_powertools import Tracer

    decorator: Callable[[F], F] = Tracer().capture_lambda_handler  # type: ignore[assignment]
    return decorator


def route_package_logs(logger: Any) -> None:
    """Send the package's own log lines (`healthwatch.*`) through the Powertools JSON logger,
    so they carry the same keys (tier, run_id, request id)."""
    package = logging.getLogger("healthwatch")
    if logger.name == package.name:  # POWERTOOLS_SERVICE_NAME=healthwatch: already the same
        return
    for handler in logger.handlers:
        if handler not in package.handlers:
            package.addHandler(handler)
    package.setLevel(logger.log_level)
    package.propagate = False


def redact_logs(logger: Any, secrets: Secrets) -> None:
    """Scrub every resolved secret from the function's log lines (its own, the package's,
    and the libraries' that reach the root logger, urllib3's request paths among them)."""
    from healthwatch.secrets import RedactingFilter

    scrub = RedactingFilter(secrets)
    for handler in [*logger.handlers, *logging.getLogger().handlers]:
        handler.addFilter(scrub)
