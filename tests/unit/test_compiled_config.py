"""`validate --compile`: a config validated ahead of time, read back without pydantic or YAML,
and only ever when it is the source's as the source is now."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from healthwatch.cli import main
from healthwatch.config import compiled
from healthwatch.errors import ConfigError
from healthwatch.runtime.config_source import compile_config, load_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def source(tmp_path) -> Path:
    path = tmp_path / "checks.yaml"
    path.write_bytes((ROOT / "checks.yaml").read_bytes())
    return path


def _same(a, b) -> None:
    """Two configs hold the same checks, options, tiers and settings."""
    assert [(c.id, c.tier, c.type, c.target, c.options) for c in a.checks] == [
        (c.id, c.tier, c.type, c.target, c.options) for c in b.checks
    ]
    assert [(c.conditions, c.parsed_conditions, c.timeout) for c in a.checks] == [
        (c.conditions, c.parsed_conditions, c.timeout) for c in b.checks
    ]
    assert (a.tiers, a.defaults, a.slo, a.maintenance, a.regions, a.quorum) == (
        b.tiers,
        b.defaults,
        b.slo,
        b.maintenance,
        b.regions,
        b.quorum,
    )
    assert dict(a.notifications) == dict(b.notifications)


def test_the_compiled_copy_reads_back_as_the_config_it_was_made_from(source, capsys):
    # Given the shipped config compiled by the CLI, as `make build` does
    assert main(["validate", "--compile", "--no-color", "--config", str(source)]) == 0
    assert f"compiled: {source}.compiled" in capsys.readouterr().out

    # When it is loaded
    loaded = load_config(source)

    # Then it is the compiled copy (its notifications wait to be read) and the same config
    assert isinstance(loaded.notifications, compiled.Deferred)
    _same(loaded, load_config(source, use_compiled=False))
    assert set(loaded.notifications) == {"slack", "discord"}


def test_reading_a_compiled_config_imports_neither_pydantic_nor_yaml(source):
    compile_config(source)
    code = textwrap.dedent(
        f"""
        import sys
        from healthwatch.runtime.config_source import load_config
        config = load_config({str(source)!r})
        assert len(config.checks) > 5 and config.checks[0].options.url
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("pydantic", "yaml"))
        print(loaded)
        dict(config.notifications)  # read: validated now, by pydantic
        print("pydantic" in sys.modules)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["[]", "True"]


def test_an_edited_source_is_read_not_its_stale_copy(source):
    compile_config(source)
    before = compiled.compiled_path(source).read_bytes()
    source.write_text(source.read_text().replace("id: agent-service", "id: agent-renamed"))

    loaded = load_config(source)

    assert "agent-renamed" in [c.id for c in loaded.checks]
    assert not isinstance(loaded.notifications, compiled.Deferred)
    assert compiled.compiled_path(source).read_bytes() == before  # reading never writes


def test_an_edit_that_breaks_the_source_is_an_error_whatever_the_copy_says(source):
    compile_config(source)
    source.write_text(source.read_text().replace("tier: quick", "tier: nowhere", 1))
    with pytest.raises(ConfigError, match="unknown tier 'nowhere'"):
        load_config(source)


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[: len(raw) // 2],  # cut short
        lambda raw: b"not json\n" + raw.split(b"\n", 1)[1],  # no header
        lambda raw: raw.split(b"\n", 1)[0] + b"\n" + b"\x80garbage",  # not a pickle
        lambda raw: raw.replace(b'"format": 1', b'"format": 99', 1),  # another format
        lambda raw: b"",
    ],
)
def test_a_damaged_copy_is_ignored_and_the_source_read(source, damage):
    compile_config(source)
    path = compiled.compiled_path(source)
    path.write_bytes(damage(path.read_bytes()))

    loaded = load_config(source)

    assert not isinstance(loaded.notifications, compiled.Deferred)
    _same(loaded, load_config(source, use_compiled=False))


def test_a_copy_whose_classes_have_changed_is_ignored(source):
    # Given a compiled copy made when a record had other fields (another build's code)
    compile_config(source)
    path = compiled.compiled_path(source)
    header, body = path.read_bytes().split(b"\n", 1)
    stale = {**json.loads(header), "fingerprint": "0" * 64}
    path.write_bytes(json.dumps(stale).encode() + b"\n" + body)

    # Then the source is read instead
    assert not isinstance(load_config(source).notifications, compiled.Deferred)
    assert compiled.fingerprint(load_config(source)) == json.loads(header)["fingerprint"]


def test_validate_reads_the_source_even_beside_a_copy(source, capsys):
    # Given a compiled copy of a config, then an edit breaking the source
    compile_config(source)
    source.write_text(source.read_text().replace("tier: quick", "tier: nowhere", 1))
    # Then validate says so (exit 2) and --compile writes nothing
    before = compiled.compiled_path(source).read_bytes()
    assert main(["validate", "--no-color", "--config", str(source)]) == 2
    assert main(["validate", "--compile", "--no-color", "--config", str(source)]) == 2
    assert "unknown tier" in capsys.readouterr().err
    assert compiled.compiled_path(source).read_bytes() == before


def test_a_copy_never_holds_pydantic_objects(source, tmp_path):
    config = load_config(source, use_compiled=False)
    config.slo = load_config(source, use_compiled=False).notifications["slack"]  # a model
    with pytest.raises(TypeError, match="cannot hold"):
        compiled.write(config, source.read_bytes(), tmp_path / "out.compiled")
    assert not (tmp_path / "out.compiled").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_the_copy_is_written_whole_or_not_at_all(source):
    compile_config(source)
    path = compiled.compiled_path(source)
    header, body = path.read_bytes().split(b"\n", 1)
    assert (
        json.loads(header)["source_sha256"]
        == __import__("hashlib").sha256(source.read_bytes()).hexdigest()
    )
    config, notifications = pickle.loads(body)  # noqa: S301 - our own file
    assert set(notifications) == {"slack", "discord"}
    assert sorted(p.name for p in source.parent.iterdir()) == [
        "checks.yaml",
        "checks.yaml.compiled",
    ]
