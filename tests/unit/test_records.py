"""`healthwatch.records`: declared once, plain at run time, validated by pydantic on read."""

from __future__ import annotations

import dataclasses
import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from healthwatch import records
from healthwatch.records import AfterValidator, Field, field_validator, model_validator, record
from pydantic import ValidationError

ROOT = Path(__file__).resolve().parents[2]


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError("must be positive")
    return value


@record
class Sample:
    name: str
    count: int = Field(3, ge=1, le=10)
    tags: list[str] = Field(default_factory=list)
    weight: float = 1.0

    @field_validator("name", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _named(self) -> Sample:
        if self.name == "nobody":
            raise ValueError("a sample needs a name")
        return self

    @property
    def double(self) -> int:
        return self.count * 2


def test_a_record_is_a_slotted_keyword_only_dataclass_with_its_defaults():
    made = Sample(name="a")
    assert dataclasses.is_dataclass(Sample) and "__slots__" in vars(Sample)
    assert (made.count, made.tags, made.weight, made.double) == (3, [], 1.0, 6)
    assert Sample(name="b").tags is not made.tags  # a factory, not a shared list
    with pytest.raises(TypeError):
        Sample("a")  # type: ignore[misc]
    with pytest.raises(AttributeError):
        made.other = 1  # type: ignore[attr-defined]


def test_validation_applies_constraints_validators_and_returns_the_plain_record():
    made = records.validate(Sample, {"name": "  x ", "count": "4"})
    assert type(made) is Sample
    assert made == Sample(name="x", count=4)


@pytest.mark.parametrize(
    ("data", "loc", "kind"),
    [
        ({"name": "x", "count": 11}, ("count",), "less_than_equal"),
        ({"count": 2}, ("name",), "missing"),
        ({"name": "x", "cuont": 2}, ("cuont",), "extra_forbidden"),
        ({"name": "nobody"}, (), "value_error"),
    ],
)
def test_bad_input_is_pydantics_error_at_its_location(data, loc, kind):
    with pytest.raises(ValidationError) as info:
        records.validate(Sample, data)
    errors = info.value.errors()
    assert [(e["loc"], e["type"]) for e in errors] == [(loc, kind)]


def test_annotated_validators_and_nested_records_validate_into_records(tmp_path):
    # Given a module declaring a record that holds another (string annotations, as ours
    # are, resolved in that module's names)
    path = tmp_path / "nested_sample.py"
    path.write_text(
        textwrap.dedent(
            """
            from __future__ import annotations
            from typing import Annotated
            from healthwatch.records import AfterValidator, Field, record

            def _positive(value: float) -> float:
                if value <= 0:
                    raise ValueError("must be positive")
                return value

            Positive = Annotated[float, AfterValidator(_positive)]

            @record
            class Inner:
                value: Positive = 1.0

            @record(extra="allow")
            class Outer:
                inner: Inner = Field(default_factory=Inner)
                many: dict[str, Inner] = Field(default_factory=dict)
            """
        )
    )
    spec = importlib.util.spec_from_file_location("nested_sample", path)
    assert spec is not None and spec.loader is not None
    nested_sample = importlib.util.module_from_spec(spec)
    sys.modules["nested_sample"] = nested_sample
    try:
        spec.loader.exec_module(nested_sample)
        _check_nested(nested_sample)
    finally:
        del sys.modules["nested_sample"]


def _check_nested(nested_sample) -> None:
    # When it is validated
    made = records.validate(nested_sample.Outer, {"many": {"a": {"value": 2}}})

    # Then every level is its plain record, and the annotated validator ran
    assert type(made.inner) is nested_sample.Inner and made.inner.value == 1.0
    assert type(made.many["a"]) is nested_sample.Inner and made.many["a"].value == 2.0
    with pytest.raises(ValidationError) as info:
        records.validate(nested_sample.Outer, {"many": {"a": {"value": -1}}})
    assert info.value.errors()[0]["loc"] == ("many", "a", "value")
    assert "must be positive" in info.value.errors()[0]["msg"]
    assert records.names(nested_sample.Outer) == ("inner", "many")
    assert AfterValidator(_positive).func is _positive


def test_declaring_and_making_records_imports_no_pydantic():
    # Given a fresh interpreter importing every probe type (each declares its Options)
    code = textwrap.dedent(
        """
        import sys
        from healthwatch import probes
        for name in probes.known_types():
            probes.get(name)
        options = probes.get("http").Options(url="http://127.0.0.1/")
        assert options.method == "GET" and options.max_redirects == 10
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("pydantic", "pydantic_core")))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    # Then nothing of pydantic was loaded
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
