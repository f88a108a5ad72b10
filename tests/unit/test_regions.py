"""The regions' vote and the events of shards and probe regions, as data."""

from __future__ import annotations

import pytest
from healthwatch.engine.regions import Answer, parse_answer, vote
from healthwatch.errors import UnknownTierError
from healthwatch.runtime.lambda_support import probe_request, shard_from_event

from tests.helpers import config, result

CONFIG = config(
    """
tiers: {quick: {schedule: rate(15 minutes)}}
checks:
  - {id: api, tier: quick, url: "http://127.0.0.1:9/health"}
"""
)


def record(status: str, attempts: int = 1, error: str | None = None) -> dict:
    return {
        "check_id": "api",
        "status": status,
        "latency_ms": 12.0,
        "error": error,
        "attempts": attempts,
    }


def voted(home: str, quorum: int | None, **regions: dict | str | None):
    r = result("api", home)
    r.error = "http: 503" if home == "down" else None
    answers = []
    for name, rec in regions.items():
        if isinstance(rec, str):
            answers.append(Answer(name, problem=rec))
        else:
            answers.append(Answer(name, {"api": rec} if rec else {}))
    vote("home", quorum, [r], answers)
    return r


def test_quorum_met_is_down_naming_the_regions_and_their_agreed_attempts():
    r = voted("down", 2, eu=record("down", 3, "connection: refused"), ap=record("up"))
    assert r.status == "down"
    assert r.error == "down from home, eu: http: 503"
    # home tried once (an open incident), eu three times: two regions agree on one failure
    assert r.attempts == 1


def test_attempts_are_what_a_quorum_of_regions_saw_in_a_row():
    r = voted("up", 2, eu=record("down", 3, "x"), ap=record("down", 2, "y"))
    assert r.status == "down" and r.attempts == 2
    assert r.error == "down from eu, ap: x"


def test_fewer_than_quorum_is_degraded_naming_who_saw_it():
    r = voted("up", 2, eu=record("down", 1, "timeout: 5s"), ap=record("up"))
    assert r.status == "degraded"
    assert r.error == "down from eu only (1 of 2 regions needed): timeout: 5s"


def test_an_unavailable_region_is_recorded_and_never_votes():
    r = voted("down", 2, eu="no answer by the tier deadline", ap=None)
    assert r.status == "degraded"
    views = r.details["regions"]
    assert views["eu"] == {
        "status": "unavailable",
        "latency_ms": None,
        "error": "no answer by the tier deadline",
    }
    assert views["ap"]["status"] == "unavailable"
    assert views["ap"]["error"] == "no record for this check"


def test_without_a_quorum_the_home_decides_and_the_regions_are_recorded():
    r = voted("up", None, eu=record("down", 1, "x"))
    assert r.status == "up" and r.error is None
    assert r.details["regions"]["eu"]["status"] == "down"


def test_the_home_degraded_by_a_warning_stays_degraded():
    r = voted("degraded", 2, eu=record("up"), ap=record("up"))
    assert r.status == "degraded"


@pytest.mark.parametrize(
    "body",
    [None, [], {"results": "x"}, {"region": "eu"}],
    ids=["null", "list", "results-not-a-list", "no-results"],
)
def test_an_answer_without_results_makes_the_region_unavailable(body):
    answer = parse_answer("eu", body)
    assert answer.problem and answer.records == {}


def test_records_of_unknown_status_are_dropped_from_an_answer():
    body = {"results": [record("up"), {"check_id": "other", "status": "maybe"}, "junk"]}
    assert set(parse_answer("eu", body).records) == {"api"}


def test_a_scheduled_event_has_no_shard_and_a_shard_event_is_checked():
    assert shard_from_event({"tier": "quick"}) == (None, None)
    run_id = "quick-2026-12-02T07-00-00Z-ab12"
    shard, got = shard_from_event({"tier": "quick", "shard": 2, "shards": 3, "run_id": run_id})
    assert (shard.index, shard.count, got) == (2, 3, run_id)


@pytest.mark.parametrize(
    "event",
    [
        {"shard": 3, "shards": 3, "run_id": "quick-2026-12-02T07-00-00Z-ab12"},
        {"shard": "1", "shards": 3, "run_id": "quick-2026-12-02T07-00-00Z-ab12"},
        {"shard": True, "shards": 3, "run_id": "quick-2026-12-02T07-00-00Z-ab12"},
        {"shard": 1, "shards": 3},
        {"shard": 1, "shards": 3, "run_id": "../../etc"},
        {"shard": 1, "shards": 100_000, "run_id": "quick-2026-12-02T07-00-00Z-ab12"},
    ],
    ids=["past-the-end", "string", "bool", "no-run-id", "bad-run-id", "too-many"],
)
def test_a_bad_shard_event_is_refused(event):
    with pytest.raises(UnknownTierError):
        shard_from_event({"tier": "quick", **event})


def test_a_probe_event_names_known_tier_and_checks():
    tier, ids, run_id, attempts = probe_request(
        {"tier": "quick", "check_ids": ["api", "gone"], "run_id": "r", "attempts": {"api": 500}},
        CONFIG,
    )
    assert (tier, ids, run_id) == ("quick", ["api", "gone"], "r")
    assert attempts == {"api": 100}  # clamped to the threshold's bound


@pytest.mark.parametrize(
    "event",
    [
        {"tier": "nightly", "check_ids": [], "run_id": "r"},
        {"tier": "quick", "check_ids": "api", "run_id": "r"},
        {"tier": "quick", "check_ids": ["api"]},
        ["quick"],
    ],
    ids=["unknown-tier", "ids-not-a-list", "no-run-id", "not-an-object"],
)
def test_a_bad_probe_event_is_refused(event):
    with pytest.raises(UnknownTierError):
        probe_request(event, CONFIG)


def test_a_region_missing_a_secret_is_unavailable_not_a_down_vote():
    r = voted("down", 2, eu=record("down", 1, "secret: hotdash/token is not set"), ap=record("up"))
    assert r.status == "degraded"
    assert r.details["regions"]["eu"]["status"] == "unavailable"
    assert r.details["regions"]["eu"]["error"].startswith("secret:")


def test_the_homes_own_config_problem_is_left_to_announce_itself():
    r = result("api", "down")
    r.error = "secret: hotdash/token is not set"
    vote("home", 2, [r], [Answer("eu", {"api": record("down", 1, "http: 503")})])
    assert r.status == "down" and r.error.startswith("secret:")
    assert r.details["regions"]["eu"]["status"] == "down"
