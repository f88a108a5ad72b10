"""Declared records: plain slotted classes at run time, validated by pydantic when read.

A config's classes (`Config`, a tier, a probe type's `Options`) are declared once, with the
names pydantic uses (`Field`, `field_validator`, `model_validator`, `AfterValidator`,
`BeforeValidator`), under `record`. Declaring one imports nothing: the class is a
keyword-only, slotted dataclass holding the fields, its methods and properties. Only
`validate` (reading a file) builds a pydantic model of the same name, fields, constraints
and validators, validates through it and hands back the plain class. Its errors, their
locations and messages are pydantic's own.

So a run that reads a config validated earlier (`config.compiled`: the Lambda's, built by
`make build`) never imports pydantic: about 0.1 s of a cold start and 11 MB of memory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar, dataclass_transform, overload

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler
    from pydantic_core import CoreSchema

T = TypeVar("T")
_MISSING: Any = dataclasses.MISSING
Extra = Literal["forbid", "allow"]


@dataclasses.dataclass(frozen=True, slots=True)
class FieldSpec:
    """What `Field(...)` declared: the default and pydantic's constraints (`ge`, `pattern`)."""

    default: Any
    default_factory: Callable[[], Any] | None
    constraints: dict[str, Any]


def Field(  # noqa: N802 - pydantic's name, so a declaration reads as one
    default: Any = _MISSING, *, default_factory: Callable[[], Any] | None = None, **constraints: Any
) -> Any:
    return FieldSpec(default, default_factory, constraints)


@dataclasses.dataclass(frozen=True, slots=True)
class _Validator:
    """A `field_validator` or `model_validator`, applied when the pydantic model is built."""

    kind: Literal["field", "model"]
    func: Any  # as written: a classmethod, or a plain function for `mode="after"` models
    fields: tuple[str, ...]
    mode: str


def field_validator(*fields: str, mode: str = "after") -> Callable[[Any], Any]:
    return lambda func: _Validator("field", func, fields, mode)


def model_validator(*, mode: str) -> Callable[[Any], Any]:
    return lambda func: _Validator("model", func, (), mode)


class _Wrap:
    """`Annotated` metadata running a function after (or before) the type's own validation,
    through pydantic's `__get_pydantic_core_schema__` protocol: nothing imported until then."""

    __slots__ = ("func",)
    before = False

    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.func = func

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        from pydantic_core import core_schema

        wrap = (
            core_schema.no_info_before_validator_function
            if self.before
            else core_schema.no_info_after_validator_function
        )
        return wrap(self.func, handler(source))


class AfterValidator(_Wrap):
    pass


class BeforeValidator(_Wrap):
    before = True


@dataclasses.dataclass(slots=True)
class Spec:
    """A record's declaration, kept to build its pydantic model from."""

    annotations: dict[str, Any]
    fields: dict[str, Any]  # name -> FieldSpec or plain default (absent: required)
    validators: dict[str, _Validator]
    extra: Extra
    names: tuple[str, ...] = ()
    model: Any = None  # the pydantic model, once built
    adapter: Any = None  # its TypeAdapter, once built


@overload
def record(cls: type[T], /) -> type[T]: ...


@overload
def record(*, extra: Extra = "forbid") -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(kw_only_default=True, field_specifiers=(Field,))
def record(cls: Any = None, /, *, extra: Extra = "forbid") -> Any:
    """Make `cls` a record: a slotted, keyword-only dataclass; `validate` checks its input."""

    def make(cls: type[T]) -> type[T]:
        own = dict(vars(cls).get("__annotations__", {}))
        annotations = {
            k: v for k, v in own.items() if not str(v).startswith(("ClassVar", "typing.ClassVar"))
        }
        validators = {k: v for k, v in vars(cls).items() if isinstance(v, _Validator)}
        fields: dict[str, Any] = {}
        for name in validators:
            delattr(cls, name)
        for name in annotations:
            if name not in vars(cls):
                continue
            value = vars(cls)[name]
            fields[name] = value
            if isinstance(value, FieldSpec):
                kind = dataclasses.field(
                    default=value.default,
                    default_factory=value.default_factory or _MISSING,
                )
                setattr(cls, name, kind)
        made: Any = dataclasses.dataclass(slots=True, kw_only=True)(cls)
        made.__record__ = Spec(annotations, fields, validators, extra, tuple(annotations))
        made.__get_pydantic_core_schema__ = classmethod(_core_schema)
        return made

    return make if cls is None else make(cls)


def is_record(cls: Any) -> bool:
    return isinstance(getattr(cls, "__record__", None), Spec)


def names(cls: Any) -> tuple[str, ...]:
    """The keys a record accepts."""
    spec: Spec = cls.__record__
    return spec.names


def model(cls: Any) -> Any:
    """The pydantic model a record is validated through (built on first use)."""
    spec: Spec = cls.__record__
    if spec.model is None:
        from pydantic import BaseModel, ConfigDict
        from pydantic import Field as PydanticField
        from pydantic import field_validator as pydantic_field_validator
        from pydantic import model_validator as pydantic_model_validator

        namespace: dict[str, Any] = {
            "__module__": cls.__module__,
            "__qualname__": cls.__qualname__,
            "__annotations__": dict(spec.annotations),
            "__doc__": cls.__doc__,
            "model_config": ConfigDict(extra=spec.extra),
        }
        for name, value in spec.fields.items():
            if isinstance(value, FieldSpec):
                given = dict(value.constraints)
                if value.default_factory is not None:
                    given["default_factory"] = value.default_factory
                elif value.default is not _MISSING:
                    given["default"] = value.default
                namespace[name] = PydanticField(**given)
            else:
                namespace[name] = value
        for name, v in spec.validators.items():
            if v.kind == "field":
                namespace[name] = pydantic_field_validator(*v.fields, mode=v.mode)(v.func)  # type: ignore[call-overload]
            else:
                namespace[name] = pydantic_model_validator(mode=v.mode)(v.func)  # type: ignore[call-overload]
        spec.model = type(cls.__name__, (BaseModel,), namespace)
    return spec.model


def from_model(cls: type[T], validated: Any) -> T:
    """The record holding what its pydantic model validated."""
    values = validated.__dict__
    out = object.__new__(cls)
    for name in cls.__record__.names:  # type: ignore[attr-defined]
        object.__setattr__(out, name, values[name])
    return out


def _core_schema(cls: Any, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
    from pydantic_core import core_schema

    return core_schema.no_info_after_validator_function(
        lambda validated: from_model(cls, validated), handler.generate_schema(model(cls))
    )


def validate(cls: type[T], data: Any, context: dict[str, Any] | None = None) -> T:
    """`data` as the record `cls`, or pydantic's `ValidationError`."""
    spec: Spec = cls.__record__  # type: ignore[attr-defined]
    if spec.adapter is None:
        from pydantic import TypeAdapter

        spec.adapter = TypeAdapter(cls)
    result: T = spec.adapter.validate_python(data, context=context)
    return result
