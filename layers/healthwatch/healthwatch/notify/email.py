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
    links,
    one_line,
    recent_results,
    tag,
    when,
)

SUBJECT_LIMIT = 99  # SNS: "less than 100 characters"


def subject(event: AlertEvent) -> str:
    """`[DOWN] Agent SDK Service (quick)`: plain ASCII, one line, under 100 characters.

    SNS rejects subjects with line breaks or control characters and replaces non-ASCII
    ones, so accents are folded (`é` -> `e`), punctuation transliterated (`·` -> `-`) and
    anything else left out; the body has the name as written.
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
    error = event.reason or event.error or result.get("error")
    if event.event != "resolved" and error:
        lines += ["What failed:", f"  {one_line(str(error), 500)}"]
    if event.event != "resolved" and event.action:
        lines += ["Next step:", f"  {one_line(event.action, 500)}"]
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
    shown = links(event)
    if shown:
        lines += ["", "Links:"] + [f"  {name}: {url}" for name, url in shown]

    footer = f"healthwatch · {str(event.event).replace('_', ' ')} at {when(event.at)}"
    if event.run_id:
        footer += f" · run {event.run_id}"
    lines += ["", "-- ", footer]
    return "\n".join(lines) + "\n"


# What NFKD does not fold to ASCII, written the way a person would type it.
_TRANSLITERATION = {
    "·": "-", "•": "-", "–": "-", "—": "-", "‐": "-", "−": "-",
    "‘": "'", "’": "'", "‚": "'", "“": '"', "”": '"', "„": '"', "«": '"', "»": '"',
    "…": "...", "×": "x", "→": "->", "←": "<-", "€": "EUR", "£": "GBP", "™": "TM",
    "©": "(c)", "®": "(R)", "°": " deg", "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe",
    "Œ": "OE", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "þ": "th",
    "Þ": "Th", "ð": "d", "ı": "i",
}  # fmt: skip
# Greek and Cyrillic letters, one Latin spelling each (after NFKD took the accents off).
_GREEK_FROM = "αβγδεζηθικλμνξοπρσςτυφχψωΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩ"
_GREEK_TO = (
    "a b g d e z i th i k l m n x o p r s s t y f ch ps o "
    "A B G D E Z I Th I K L M N X O P R S T Y F Ch Ps O"
)
_CYRILLIC_FROM = "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ"
_CYRILLIC_TO = (
    "a b v g d e e zh z i i k l m n o p r s t u f kh ts ch sh shch - y - e yu ya "
    "A B V G D E E Zh Z I I K L M N O P R S T U F Kh Ts Ch Sh Shch - Y - E Yu Ya"
)
_GREEK = dict(zip(_GREEK_FROM, _GREEK_TO.split(), strict=True))
_CYRILLIC = dict(zip(_CYRILLIC_FROM, _CYRILLIC_TO.split(), strict=True))
_TRANSLITERATION.update(_GREEK)
_TRANSLITERATION.update({k: ("" if v == "-" else v) for k, v in _CYRILLIC.items()})


def _ascii(text: str) -> str:
    """Plain ASCII: accents folded, punctuation transliterated, anything else left out
    (never a `?` that reads as a question)."""
    text = unicodedata.normalize("NFKD", text)  # accents off first: έ -> ε + accent
    folded = unicodedata.normalize(
        "NFKD", "".join(_TRANSLITERATION.get(c, c) for c in text if not unicodedata.combining(c))
    )
    out = []
    for ch in folded:
        if unicodedata.combining(ch):
            continue
        if ch.isspace() or unicodedata.category(ch).startswith("C"):
            out.append(" ")
        elif ord(ch) < 128:
            out.append(ch)
    return " ".join("".join(out).split())
