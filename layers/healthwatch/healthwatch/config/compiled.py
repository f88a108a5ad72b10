"""A config validated ahead of time (`make build`), read back without pydantic or YAML.

`healthwatch validate --compile` (run by `make build` on the copy of `checks.yaml` it puts
in each function) writes ``checks.yaml.compiled`` beside the file: a one-line JSON header,
then the validated `Config` pickled. Its classes are records (`healthwatch.records`), so
reading it imports neither pydantic nor PyYAML: about 0.1 s of a cold start, and the
memory they hold for the life of the function.

A compiled file is used only when it is the source's, as it is now: the header names the
SHA-256 of the source's bytes, the Python and the fields of every class it holds. Anything
else (an edited source, another build, a damaged file) and the source is read and validated
as if there were none, so the result is never a different config.

Trust: a pickle is code. It is read only from the local file beside the config, which
`make build` writes into the function's own (read-only) package along with the bytecode
that package runs; never from S3 or any other remote source.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from healthwatch import records
from healthwatch.config.schema import (
    Check,
    Config,
    Defaults,
    MaintenanceWindow,
    Region,
    Registry,
    Slo,
    TierConfig,
    validate_notifications,
)

FORMAT = 1
SUFFIX = ".compiled"
_REFUSED_MODULES = ("pydantic", "pydantic_core", "yaml")


def compiled_path(source: str | Path) -> Path:
    return Path(f"{source}{SUFFIX}")


def fingerprint(config: Config) -> str:
    """What the pickled objects' classes look like: their fields, the Python reading them."""
    classes: list[Any] = [Config, Defaults, Slo, TierConfig, MaintenanceWindow, Region]
    classes += sorted({type(c.options) for c in config.checks}, key=lambda c: c.__module__)
    shape = [sys.version_info[:2], FORMAT, list(Check.__slots__)]
    shape += [(c.__module__, c.__qualname__, list(records.names(c))) for c in classes]
    return hashlib.sha256(repr(shape).encode()).hexdigest()


class _Pickler(pickle.Pickler):
    """Refuses what reading the file back would have to import pydantic or YAML for."""

    def reducer_override(self, obj: Any) -> Any:
        kind = obj if isinstance(obj, type) else type(obj)
        pydantic_made = "__pydantic_validator__" in vars(kind)  # a pydantic dataclass
        if pydantic_made or any(
            k.__module__.split(".")[0] in _REFUSED_MODULES for k in kind.__mro__
        ):
            raise TypeError(f"a compiled config cannot hold a {kind.__qualname__}")
        return NotImplemented


def write(config: Config, source_bytes: bytes, out: Path) -> None:
    """`config` (validated from `source_bytes`) to `out`, atomically. Its notifications go
    as data (their chat providers' options are pydantic models), to be validated on read."""
    notifications = {
        name: options.model_dump() if hasattr(options, "model_dump") else options
        for name, options in config.notifications.items()
    }
    held = dataclasses.replace(config, notifications={})
    header = {
        "format": FORMAT,
        "source_sha256": hashlib.sha256(source_bytes).hexdigest(),
        "fingerprint": fingerprint(held),
    }
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(json.dumps(header).encode() + b"\n")
            _Pickler(f, protocol=pickle.HIGHEST_PROTOCOL).dump((held, notifications))
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read(source_bytes: bytes, path: Path, chat: Callable[[], Registry]) -> Config | None:
    """The compiled config at `path` if it is `source_bytes`'s, else None (read the source)."""
    try:
        with open(path, "rb") as f:
            header = json.loads(f.readline())
            if not isinstance(header, dict) or header.get("format") != FORMAT:
                return None
            if header.get("source_sha256") != hashlib.sha256(source_bytes).hexdigest():
                return None
            # Only ever this function's own file, written by its build (see the module's doc).
            config, notifications = pickle.load(f)  # noqa: S301
    except (OSError, ValueError, EOFError, pickle.UnpicklingError, AttributeError, ImportError):
        return None
    if not isinstance(config, Config) or header.get("fingerprint") != fingerprint(config):
        return None
    config.notifications = Deferred(notifications, chat)
    return config


class Deferred(Mapping[str, Any]):
    """`notifications`, validated when first read: a tier's run never reads them (the chat
    function and the email sender do), and their chat providers' options are pydantic's."""

    def __init__(self, raw: dict[str, Any], chat: Callable[[], Registry]) -> None:
        self._raw: dict[str, Any] | None = raw
        self._chat = chat
        self._validated: dict[str, Any] = {}

    def _get(self) -> dict[str, Any]:
        if self._raw is not None:
            self._validated, self._raw = validate_notifications(self._raw, self._chat()), None
        return self._validated

    def __getitem__(self, key: str) -> Any:
        return self._get()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())
