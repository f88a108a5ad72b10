"""Read `checks.yaml`: YAML to the schema, every error naming the file, field, check and line."""

from __future__ import annotations

import contextlib
import gc
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import healthwatch.config.compiled as compiled
from healthwatch import records
from healthwatch.config.schema import CheckModel, Config, Defaults, Plugins, format_loc, suggest
from healthwatch.errors import ConfigError
from healthwatch.secrets import reference_problems

if TYPE_CHECKING:
    import yaml

MAX_CONFIG_BYTES = 16 << 20  # a config of 10,000 checks is about 2 MB (sharded tiers: more)
# What aliases may add to the values written in the file: a bomb stops here, not in
# memory, while a big config written out in full (20,000 checks) is not refused for its size.
MAX_EXPANDED_NODES = 200_000


def load_config(path: str | Path, plugins: Plugins, *, use_compiled: bool = True) -> Config:
    """The config in `path`, or a ConfigError naming the file and every problem. A compiled
    copy beside it (`config.compiled`) is read instead when it is this file's, unless
    `use_compiled` is false."""
    path = Path(path)
    raw = _read(path)
    if use_compiled and len(raw) <= MAX_CONFIG_BYTES:
        made = compiled.read(raw, compiled.compiled_path(path), lambda: plugins.chat)
        if made is not None:
            return made
    return parse_config(raw, plugins, str(path))


def compile_config(path: str | Path, plugins: Plugins) -> tuple[Config, Path]:
    """Validate the file at `path` (never its compiled copy) and write that copy beside it."""
    raw = _read(Path(path))
    config = parse_config(raw, plugins, str(path))
    out = compiled.compiled_path(path)
    compiled.write(config, raw, out)
    return config, out


def _read(path: Path) -> bytes:
    """The file's bytes (one past the size cap, so an oversized file is seen as one)."""
    try:
        with open(path, "rb") as f:
            return f.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read the file: {exc.strerror}"]) from None


def parse_config(text: str | bytes, plugins: Plugins, source: str = "<config>") -> Config:
    """Parse and validate: UTF-8 text, at most `MAX_CONFIG_BYTES`, no duplicate keys, aliases
    that stay small. Every problem is a ConfigError naming `source` and the line."""
    with _collector_paused():
        return _parse_config(text, plugins, source)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Loading builds tens of thousands of objects that all live on, and no garbage cycles:
    the cyclic collector would walk them again and again (a fifth of a 10,000-check load)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _parse_config(text: str | bytes, plugins: Plugins, source: str) -> Config:
    data, _ = read_yaml(text, source, index=False)
    # Lines are only needed to explain a problem: found by reading the text again then.
    lines = _LazyLines(lambda: read_yaml(text, source)[1])
    if not isinstance(data, dict):
        raise ConfigError(source, ["the file must be a mapping with `tiers` and `checks`"])
    problems = secret_reference_problems(data, lines)
    if problems:
        raise ConfigError(source, problems)
    from pydantic import ValidationError

    try:
        return records.validate(Config, data, context={"plugins": plugins})
    except ValidationError as exc:
        raise ConfigError(source, _describe(exc, data, lines, plugins)) from None


class _LazyLines(dict[tuple[Any, ...], int]):
    """The line index, built on first use: a config that is valid never needs it."""

    def __init__(self, build: Callable[[], dict[tuple[Any, ...], int]]) -> None:
        super().__init__()
        self._build: Callable[[], dict[tuple[Any, ...], int]] | None = build

    def _load(self) -> None:
        if self._build is not None:
            build, self._build = self._build, None
            self.update(build())

    def get(self, key: tuple[Any, ...], default: Any = None) -> Any:
        self._load()
        return super().get(key, default)

    def __getitem__(self, key: tuple[Any, ...]) -> int:
        self._load()
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self._load()
        return super().__contains__(key)


def read_yaml(
    text: str | bytes, source: str, *, index: bool = True
) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """The document, and the line of every key path (`index`), read once with libyaml."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(
            source, [f"the file is over {MAX_CONFIG_BYTES >> 20} MiB: not a config we read"]
        )
    try:
        decoded = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            source,
            [f"line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"],
        ) from None
    if not index:
        data = _as_json(decoded)
        if data is not _NOT_JSON:
            return data, {}
    lib = _yaml()
    loader = getattr(lib, "CSafeLoader", lib.SafeLoader)(decoded)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines, problems = _walk(node, index)
        if problems:
            raise ConfigError(source, problems)
        return loader.construct_document(node), lines
    except lib.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ConfigError(
            source, [f"{where}not valid YAML ({getattr(exc, 'problem', None) or exc})"]
        ) from None
    finally:
        loader.dispose()


def _yaml() -> Any:
    import yaml  # imported when a file is read as YAML: a compiled config never is

    return yaml


_NOT_JSON = object()


class _Irregular(ValueError):
    """Something YAML's reading explains better (a duplicate key, NaN): read it as YAML."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _Irregular("duplicate key")
    return out


def _no_constants(name: str) -> Any:
    raise _Irregular(name)


def _as_json(text: str) -> Any:
    """A config that is a JSON object (a generated one, often), read by the json module: a
    tenth of libyaml's time and no node tree in memory. Anything irregular (a duplicate
    key, NaN, nesting too deep) or not JSON at all goes the YAML way, which reads JSON too
    and explains every problem with its line."""
    if not text.lstrip().startswith("{"):
        return _NOT_JSON
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        return _NOT_JSON


def _walk(root: yaml.Node, want_index: bool = True) -> tuple[dict[tuple[Any, ...], int], list[str]]:
    """Lines of key paths, duplicate keys, and how far aliases expand, in one pass.

    A node reached a second time is an alias: its size is counted again (that is what
    constructing it costs) but its insides are not walked again.
    """
    lib = _yaml()
    index: dict[tuple[Any, ...], int] = {}
    problems: list[str] = []
    sizes: dict[int, int] = {}

    limit = MAX_EXPANDED_NODES  # set to the written values plus that, once they are counted

    def size(node: yaml.Node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        sizes[id(node)] = 1  # a node that contains itself counts once
        total = 1
        if isinstance(node, lib.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, lib.SequenceNode):
            total += sum(size(item) for item in node.value)
        sizes[id(node)] = min(total, limit + 1)
        return sizes[id(node)]

    seen: set[int] = set()
    keys = 0
    stack: list[tuple[yaml.Node, tuple[Any, ...]]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, lib.MappingNode):
            keys += len(node.value)
            first: dict[Any, int] = {}
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, lib.ScalarNode) else None
                line = key_node.start_mark.line + 1
                if key is not None and key != "<<":
                    if key in first:
                        where = ".".join(str(p) for p in (*path, key))
                        problems.append(
                            f"line {line}: duplicate key {key!r} ({where}), first at line "
                            f"{first[key]}: a second one would silently replace the first"
                        )
                    else:
                        first[key] = line
                    if want_index:
                        index.setdefault((*path, key), line)
                stack.append((value_node, (*path, key)))
        elif isinstance(node, lib.SequenceNode):
            for i, item in enumerate(node.value):
                if want_index:
                    index.setdefault((*path, i), item.start_mark.line + 1)
                stack.append((item, (*path, i)))
    limit = len(seen) + keys + MAX_EXPANDED_NODES  # every value and key written, and that
    if size(root) > limit:
        problems.append(
            f"line {root.start_mark.line + 1}: aliases expand to more than "
            f"{MAX_EXPANDED_NODES:,} values: refused"
        )
    return index, problems


def secret_reference_problems(data: Any, lines: dict[tuple[Any, ...], int]) -> list[str]:
    """Every `${...}` in a string must be a well-formed reference: `${secret:NAME}`,
    `${ssm:/path}` or `${env:NAME}`; anything else would be sent as it is written."""
    problems = []
    stack: list[tuple[Any, tuple[Any, ...]]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            stack.extend((v, (*path, k)) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, (*path, i)) for i, v in enumerate(value))
        elif isinstance(value, str) and "${" in value:
            for problem in reference_problems(value):
                line = _nearest_line(lines, path)
                where = f"line {line}: " if line else ""
                problems.append(f"{where}{format_loc(list(path))}: {problem}")
    return sorted(problems)


def _nearest_line(lines: dict[tuple[Any, ...], int], path: tuple[Any, ...]) -> int | None:
    for n in range(len(path), 0, -1):
        line = lines.get(tuple(path[:n]))
        if line is not None:
            return line
    return None


_PATH = re.compile(r"^([A-Za-z_]\w*(?:\[\d+\]|\.[A-Za-z_]\w*)*): (.+)$", re.S)


def _located(errors: list[Any]) -> list[Any]:
    """Errors of the cross-field checks come as one message naming each field's path
    (`checks[3].tier: unknown tier`): split them, each at its own location."""
    out = []
    for err in errors:
        msg = str(err["msg"]).removeprefix("Value error, ")
        parts = msg.split("; ")
        matches = [_PATH.match(p) for p in parts]
        if err["loc"] or not all(matches):
            out.append(err)
            continue
        for m in matches:
            assert m is not None
            loc = tuple(
                int(x) if x.isdigit() else x for x in re.findall(r"[A-Za-z_]\w*|\d+", m.group(1))
            )
            out.append({**err, "loc": loc, "msg": m.group(2), "type": "value_error"})
    return out


def _describe(
    exc: Any, data: dict[str, Any], lines: dict[tuple[Any, ...], int], plugins: Plugins
) -> list[str]:
    known = {*records.names(Defaults), *records.names(CheckModel), *plugins.option_keys()}
    out = []
    for err in _located(exc.errors()):
        loc = list(err["loc"])
        # Errors in a check's type options come back under the model-validator; pydantic
        # nests them in the message, so keep the location we have.
        field = format_loc(loc)
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
            suggestion = suggest(str(loc[-1]), known)
            if suggestion:
                msg += f" (did you mean {suggestion!r}?)"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        out.append(f"{where}{field}{who}: {msg}")
    return out
