"""The one timestamp format of records and keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from healthwatch.models import iso, parse_iso


@pytest.mark.parametrize(
    ("at", "text"),
    [
        (datetime(2026, 11, 26, 20, 45, 0, 123999, tzinfo=UTC), "2026-11-26T20:45:00.123Z"),
        (datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(0))), "2026-01-02T03:04:05.000Z"),
        # another offset is converted: 23:59:59.999 at -05:00 is the next day in UTC
        (
            datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))),
            "2027-01-01T04:59:59.999Z",
        ),
    ],
)
def test_a_timestamp_is_utc_to_the_millisecond(at, text):
    assert iso(at) == text
    assert parse_iso(iso(at)) == at.replace(microsecond=at.microsecond // 1000 * 1000)


def test_a_naive_time_is_taken_as_local_time_as_astimezone_does():
    naive = datetime(2026, 6, 1, 12, 0, 0)
    assert iso(naive) == naive.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
