"""The terminal: streams, colour and progress. Every command writes through one `Terminal`."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

_COLOURS = {"up": "32", "degraded": "33", "down": "31"}
SYMBOLS = {"up": "UP", "degraded": "DEGRADED", "down": "DOWN"}


@dataclass
class Terminal:
    """Where output goes and how it looks (httpie's `Environment`): nothing else reads
    `sys.stdout` or decides on colour."""

    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    no_color: bool = False
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)

    @property
    def colour(self) -> bool:
        """Colour only on a terminal, and never with `--no-color` or `$NO_COLOR`."""
        return not self.no_color and "NO_COLOR" not in self.environ and self.stdout.isatty()

    def paint(self, text: str, status: str) -> str:
        return f"\033[{_COLOURS[status]}m{text}\033[0m" if self.colour else text

    def out(self, text: str = "") -> None:
        print(text, file=self.stdout)

    def err(self, text: str) -> None:
        print(text, file=self.stderr)


def with_progress(
    records: Iterable[Any],
    label: str = "reading history",
    every: int = 500,
    stream: TextIO | None = None,
) -> Iterator[Any]:
    """Pass `records` through, counting them on stderr when it is a terminal (long reads)."""
    out = stream or sys.stderr
    show = out.isatty()
    n = 0
    for n, record in enumerate(records, 1):  # noqa: B007
        if show and n % every == 0:
            out.write(f"\r{label}: {n:,} results")
            out.flush()
        yield record
    if show and n >= every:
        out.write(f"\r{label}: {n:,} results, done\n")
        out.flush()
