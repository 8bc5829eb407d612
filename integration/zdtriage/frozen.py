"""Frozen records for the modules every command imports: ``dataclass(frozen=True)`` without its import-time cost.

``dataclass(frozen=True)`` writes six methods for each class (``__init__``, ``__eq__``, ``__hash__``, ``__repr__``,
``__setattr__``, ``__delattr__``) as source text and compiles each with ``exec`` while the module is imported. For
the eighteen records that ``zdtriage status`` and ``report`` import (the config's sections, the health verdict,
prices, spend, the account's limit, the declared transitions, the quality settings) that compiling was more than a
third of what our own code added to the commands' start-up (issue 22, ``bench/startup.py``).

A :class:`Record` subclass is still a dataclass: ``dataclass(init=False, eq=False, repr=False)`` collects its
fields, so ``dataclasses.fields``, ``replace`` and ``asdict`` work and defaults are declared as usual (``field``
with ``default_factory``, ``repr=False``, ``compare=False`` too). The six methods are written once, here, and do
what dataclass's own would: tests/property/test_frozen_props.py holds every record class to a twin made by
``dataclass(frozen=True)``. Type checkers see the usual typed ``__init__`` through ``dataclass_transform``.

Modules no quick command imports keep ``@dataclass``: there the compile cost is paid once by a long process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, FrozenInstanceError, dataclass, field, fields
from operator import attrgetter
from typing import Any, dataclass_transform


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
class Record:
    """Base of a frozen record: declare annotated fields (with defaults after the fields without) and nothing else."""

    __slots__ = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dataclass(init=False, eq=False, repr=False)(cls)  # the fields, the defaults; no code compiled
        # read once a class; a field without a default after one with is a TypeError here, as dataclass() raises
        _INIT[cls] = _init_spec(cls)
        _COMPARED[cls] = _compared_getter(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cls = self.__class__
        names, defaults = _INIT[cls]
        if len(args) > len(names):
            raise TypeError(f"{cls.__qualname__}() takes {len(names)} positional argument(s) but {len(args)} "
                            "were given")
        values = dict(zip(names, args, strict=False))  # fewer args than names: the rest by keyword
        for name, value in kwargs.items():
            if name in values:
                raise TypeError(f"{cls.__qualname__}() got multiple values for argument {name!r}")
            if name not in defaults and name not in names:
                raise TypeError(f"{cls.__qualname__}() got an unexpected keyword argument {name!r}")
            values[name] = value
        put = object.__setattr__  # as dataclass's frozen __init__ does
        for name in names:
            if name in values:
                put(self, name, values[name])
            elif name in defaults:
                value, factory = defaults[name]
                put(self, name, factory() if factory is not None else value)
            else:
                missing = [n for n in names if n not in values and n not in defaults]
                raise TypeError(f"{cls.__qualname__}() missing {len(missing)} required argument(s): "
                                + ", ".join(repr(n) for n in missing))

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def _compared(self) -> tuple[Any, ...]:
        return _COMPARED[self.__class__](self)  # type: ignore[no-any-return]

    def __eq__(self, other: object) -> bool:
        # dataclass's: the same class exactly, the compared fields as one tuple
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._compared() == other._compared()

    def __hash__(self) -> int:
        return hash(self._compared())

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr)  # type: ignore[arg-type]
        return f"{self.__class__.__qualname__}({shown})"


_Defaults = dict[str, tuple[Any, Callable[[], Any] | None]]
_INIT: dict[type, tuple[tuple[str, ...], _Defaults]] = {}
_COMPARED: dict[type, Callable[[Any], Any]] = {}


def _init_spec(cls: type) -> tuple[tuple[str, ...], _Defaults]:
    """The ``__init__`` parameters of ``cls`` in order, and ``name → (default, factory)`` of those with one."""
    names: list[str] = []
    defaults: _Defaults = {}
    for f in fields(cls):
        if not f.init:  # dataclass() would set its default in __init__; no record needs one
            raise TypeError(f"{cls.__qualname__}.{f.name}: field(init=False) is not supported by Record")
        if f.default is not MISSING or f.default_factory is not MISSING:
            defaults[f.name] = (f.default, None if f.default_factory is MISSING else f.default_factory)
        elif defaults:
            raise TypeError(f"non-default argument {f.name!r} follows default argument")
        names.append(f.name)
    return tuple(names), defaults


def _compared_getter(cls: type) -> Callable[[Any], Any]:
    """The compared fields of ``cls`` as one tuple, by one ``attrgetter``: the prompt's caches are keyed on the
    triage section and hash it with every ticket of a queue (issue 22)."""
    names = [f.name for f in fields(cls) if f.compare]
    # attrgetter of one name returns the value itself, not a 1-tuple; of none, it cannot be made
    if len(names) > 1:
        return attrgetter(*names)
    return lambda obj: tuple(getattr(obj, n) for n in names)
