"""Read `checks.yaml`: YAML to the schema, every error naming the file, field, check and line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from healthwatch.config.schema import Check, Config, Defaults, Plugins, format_loc, suggest
from healthwatch.errors import ConfigError


def load_config(path: str | Path, plugins: Plugins) -> Config:
    """The config in `path`, or a ConfigError naming the file and every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read the file: {exc.strerror}"]) from None
    return parse_config(text, plugins, str(path))


def parse_config(text: str, plugins: Plugins, source: str = "<config>") -> Config:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ConfigError(
            source, [f"{where}not valid YAML ({getattr(exc, 'problem', exc)})"]
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(source, ["the file must be a mapping with `tiers` and `checks`"])
    try:
        return Config.model_validate(data, context={"plugins": plugins})
    except ValidationError as exc:
        raise ConfigError(source, _describe(exc, data, text, plugins)) from None


def _describe(exc: ValidationError, data: dict[str, Any], text: str, plugins: Plugins) -> list[str]:
    lines = _line_index(text)
    known = set(Defaults.model_fields) | set(Check.model_fields) | plugins.option_keys()
    out = []
    for err in exc.errors():
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


def _line_index(text: str) -> dict[tuple[Any, ...], int]:
    """Map every key path in the YAML document to its 1-based line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    index: dict[tuple[Any, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[Any, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = key_node.value
                index[(*path, key)] = key_node.start_mark.line + 1
                walk(value_node, (*path, key))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                index[(*path, i)] = item.start_mark.line + 1
                walk(item, (*path, i))

    if root is not None:
        walk(root, ())
    return index
