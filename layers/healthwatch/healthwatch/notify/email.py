"""The e-mail an alert becomes: an ASCII subject under 100 characters and a plain-text body."""

from __future__ import annotations

import unicodedata

from healthwatch.models import AlertEvent
from healthwatch.notify.wording import (
    actions,
    detail_lines,
    elapsed,
    failed_conditions,
    headline,
    latency_text,
    one_line,
    recent_results,
    tag,
    when,
)

SUBJECT_LIMIT = 99  # SNS: "less than 100 characters"


def subject(event: AlertEvent) -> str:
    """`[DOWN] Agent SDK Service (quick)`: plain ASCII, one line, under 100 characters.

    SNS rejects subjects with line breaks or control characters and replaces non-ASCII
    ones, so accents are folded (`é` -> `e`) and anything else becomes `?`; the body has
    the name as written.
    """
    prefix = f"[{tag(event)}] "
    suffix = f" ({_ascii(event.tier)})" if event.tier else ""
    name = _ascii(event.check_name or event.check_id) or event.check_id
    room = SUBJECT_LIMIT - len(prefix) - len(suffix)
    if room < 8:  # an absurd tier name: drop it rather than the check's name
        suffix, room = "", SUBJECT_LIMIT - len(prefix)
    if len(name) > room:
        name = name[: room - 3].rstrip() + "..."
    return (prefix + name + suffix)[:SUBJECT_LIMIT]


def body(event: AlertEvent) -> str:
    """The plain-text message: short lines, the important part first, read on a phone."""
    result = event.result or {}
    lines = [headline(event) + ".", ""]
    error = event.error or result.get("error")
    if event.event != "resolved" and error:
        lines += ["What failed:", f"  {one_line(str(error), 500)}"]
    failed = failed_conditions(event)
    if event.event != "resolved" and failed:
        lines.append("Failed conditions:")
        lines += [f"  - {one_line(c, 200)}" for c in failed[:10]]
    if len(lines) > 2:
        lines.append("")

    lines.append(f"Check:    {event.check_name} ({event.check_id})")
    lines.append(f"Tier:     {event.tier}")
    if event.target:
        lines.append(f"Target:   {event.target}")
    took = elapsed(event)
    since = when(event.started_at)
    if event.event == "resolved":
        lines.append(f"Down:     {since} to {when(event.at)}" + (f" ({took})" if took else ""))
    elif event.event != "slo_burn":
        lines.append(f"Since:    {since}" + (f" ({took} before this alert)" if took else ""))
    lines.append(f"State:    {event.status}")
    latency = latency_text(result.get("latency_ms"))
    if latency:
        lines.append(f"Latency:  {latency}")
    if result.get("http_status") is not None:
        lines.append(f"HTTP:     {result['http_status']}")
    if result.get("attempts") not in (None, 1):
        lines.append(f"Attempts: {result['attempts']} in the last run")
    lines.append(f"Severity: {event.severity}")

    extra = detail_lines(event.details)
    if extra:
        lines += ["", "Details:"] + [f"  {line}" for line in extra]

    recent = recent_results(event)
    if recent:
        lines += ["", "Last results (newest first):"] + [f"  {line}" for line in recent]

    lines += ["", "What to do:"]
    lines += [f"  {i}. {step}" for i, step in enumerate(actions(event), 1)]

    footer = f"healthwatch · {str(event.event).replace('_', ' ')} at {when(event.at)}"
    if event.run_id:
        footer += f" · run {event.run_id}"
    lines += ["", "-- ", footer]
    return "\n".join(lines) + "\n"


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text)
    out = []
    for ch in folded:
        if unicodedata.combining(ch):
            continue
        if ch.isspace() or unicodedata.category(ch).startswith("C"):
            out.append(" ")
        elif ord(ch) < 128:
            out.append(ch)
        else:
            out.append("?")
    return " ".join("".join(out).split())
