"""The one encoder of what a run writes: compact JSON that reads back as it was written."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from healthwatch.codec import dumps
from healthwatch.models import Result, TierRun

ROOT = Path(__file__).resolve().parents[2]


def test_records_read_back_exactly_whatever_a_target_put_in_them():
    # Given values a target's body can carry into a record: text in any script, an integer
    # past 64 bits, a float, deep nesting, a key that is not a string
    deep: list[object] = []
    inner = deep
    for _ in range(300):
        inner.append([])
        inner = inner[0]  # type: ignore[assignment]
    value = {"name": "café ✓ \u2028 <b>", "big": 10**30, "ratio": 0.1, "deep": deep, 7: "seven"}

    # When it is encoded
    out = dumps(value)

    # Then it is compact UTF-8 JSON holding exactly those values (the key as text, as json)
    assert b": " not in out and b", " not in out
    assert json.loads(out) == {**{k: v for k, v in value.items() if k != 7}, "7": "seven"}
    assert json.loads(out)["big"] == 10**30  # not a float


def test_what_json_cannot_hold_is_written_as_text_and_keys_can_be_sorted():
    at = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    assert json.loads(dumps({"at": at})) == {"at": str(at)}
    assert dumps({"b": 1, "a": {"d": 1, "c": 2}}, sort_keys=True) == b'{"a":{"c":2,"d":1},"b":1}'


def test_a_result_line_is_the_record_as_plain_data():
    result = Result(
        "run-1", "quick", "api", "API", "http", "https://x/", "2026-12-02T12:00:00.000Z",
        "down", 12.5, 503, "http_status: 503",
        conditions=[{"condition": "[BODY].n == 1", "ok": False, "actual": 10**25}],
        details={"ip": "127.0.0.1"},
    )  # fmt: skip
    run = TierRun("run-1", "quick", result.started_at, 20.0, [result])
    (line,) = run.result_lines()
    assert json.loads(line) == result.to_dict()
    assert Result.from_dict(json.loads(line)) == result


def test_a_built_runtime_keeps_the_collector_off_its_long_lived_objects(tmp_path):
    # Given a process that builds the local runtime, as `healthwatch run` does
    code = f"""
import gc, json
from healthwatch.runtime import local, YOUNG_COLLECTION_EVERY
from healthwatch.runtime.config_source import load_config
before = gc.get_threshold()[0]
runtime = local.build(load_config({str(ROOT / "checks.yaml")!r}), {str(tmp_path)!r})
frozen = gc.get_freeze_count()
local.build(load_config({str(ROOT / "checks.yaml")!r}), {str(tmp_path)!r})  # a second build
print(json.dumps([before, gc.get_threshold()[0], frozen, YOUNG_COLLECTION_EVERY,
                  gc.isenabled(), gc.get_freeze_count() - frozen]))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    before, after, frozen, every, enabled, frozen_again = json.loads(proc.stdout)

    # Then what it built is frozen out of collections, young ones are rarer, and the
    # collector still runs (the config load paused it only while loading)
    assert before < every == after
    assert frozen > 10_000
    assert enabled is True
    # and only the first build freezes: what a later one replaces can still be collected
    assert frozen_again == 0


def test_a_kept_line_holds_its_own_size_not_the_encoders_buffer():
    # Given 10,000 result-sized records encoded and kept, as a run keeps its result lines
    code = """
import resource
from healthwatch.codec import dumps
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
kept = [dumps({"check_id": f"check-{i:05d}", "text": "x" * 350}) for i in range(10_000)]
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    # Then they take about their 4 MB (orjson's own buffers would be about 80 MB)
    assert int(proc.stdout) < 20
