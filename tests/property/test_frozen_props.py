"""Every ``frozen.Record`` of the package behaves as the same class made by ``dataclass(frozen=True)``: the same
calls construct it to the same values or fail with ``TypeError``; instances compare, hash and print alike; no
field can be set or deleted (issue 22: records no longer compile their methods at import)."""

from __future__ import annotations

import dataclasses
import functools
import importlib
import pkgutil
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import zdtriage
from zdtriage.frozen import Record


def _records() -> list[type]:
    for module in pkgutil.walk_packages(zdtriage.__path__, "zdtriage."):
        if not module.name.startswith(("zdtriage.sim", "zdtriage.__main__")):
            importlib.import_module(module.name)
    out, todo = [], list(Record.__subclasses__())
    while todo:
        cls = todo.pop()
        out.append(cls)
        todo += cls.__subclasses__()
    return sorted({c for c in out if c.__module__.startswith("zdtriage.")}, key=lambda c: c.__qualname__)


RECORDS = _records()


@functools.cache
def twin_of(cls: type) -> type:
    """The same fields through dataclass's own generated methods, under the same qualified name."""
    specs = [(f.name, f.type, dataclasses.field(default=f.default, default_factory=f.default_factory, repr=f.repr,
                                                 hash=f.hash, compare=f.compare)) for f in dataclasses.fields(cls)]
    twin = dataclasses.make_dataclass(cls.__name__, specs, frozen=True)
    twin.__qualname__ = cls.__qualname__
    return twin


def test_the_records_status_imports_are_all_found():
    names = {c.__name__ for c in RECORDS}
    assert {"Config", "ZendeskConfig", "TriageConfig", "Price", "Spend", "Seen", "Transition", "Verdict",
            "FileRead", "Settings"} <= names


def _outcome(make: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    try:
        return ("made", vars(make(*args, **kwargs)))
    except TypeError:
        return ("TypeError", None)


# a call: how many fields given by position, which of the rest by name, sometimes an unknown name or one twice
CALLS = st.tuples(st.integers(0, 30), st.lists(st.booleans(), min_size=30, max_size=30),
                  st.sampled_from(["", "unknown", "twice"]))


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__qualname__)
@given(call=CALLS)
def test_a_call_makes_what_dataclass_makes_or_fails_as_it_does(cls, call):
    positional, named, oddity = call
    names = [f.name for f in dataclasses.fields(cls)]
    values = [object() for _ in names]  # each field its own value: a swap would show
    args = tuple(values[:positional])
    kwargs = {n: v for n, v, keep in zip(names[positional:], values[positional:], named, strict=False) if keep}
    if oddity == "unknown":
        kwargs["no_such_field"] = 1
    elif oddity == "twice" and args:
        kwargs[names[0]] = values[0]
    ours, theirs = _outcome(cls, args, kwargs), _outcome(twin_of(cls), args, kwargs)
    assert ours[0] == theirs[0]
    if ours[0] == "made":
        assert ours[1] == theirs[1] and list(ours[1]) == names


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__qualname__)
def test_instances_compare_hash_and_print_as_dataclasss_and_are_frozen(cls):
    fields = dataclasses.fields(cls)
    made = [cls(**{f.name: (f.name, i) for f in fields}) for i in (1, 2)]
    twin = twin_of(cls)
    for ours in made:
        theirs = twin(**vars(ours))
        assert repr(ours) == repr(theirs)
        assert hash(ours) == hash(theirs)
        assert ours == cls(**vars(ours)) and ours != made[0 if ours is made[1] else 1]
        assert ours.__eq__(theirs) is NotImplemented  # another class: never equal
        sub = type("Sub", (cls,), {})(**vars(ours))
        assert ours != sub and ours.__eq__(sub) is NotImplemented  # not even a subclass with the same values
        same = dataclasses.replace(ours)
        assert same is not ours and same == ours
        for f in fields:
            with pytest.raises(dataclasses.FrozenInstanceError):
                setattr(ours, f.name, None)
            with pytest.raises(dataclasses.FrozenInstanceError):
                delattr(ours, f.name)
        assert dataclasses.asdict(ours) == dataclasses.asdict(theirs)


def test_a_default_factory_makes_a_fresh_value_for_each_instance():
    from zdtriage.health import Verdict

    one, two = Verdict(True, "ok"), Verdict(True, "ok")
    assert one.stages == {} and one.stages is not two.stages


def test_a_class_dataclass_would_refuse_is_refused_when_it_is_made():
    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):
        type("Bad", (Record,), {"__annotations__": {"a": "int", "b": "int"}, "a": 1})
    with pytest.raises(TypeError, match="not supported"):
        type("NoInit", (Record,), {"__annotations__": {"a": "int"}, "a": dataclasses.field(default=1, init=False)})


def test_a_record_of_one_field_compares_and_hashes_as_dataclass_would():
    # the compared fields are read by one attrgetter a class; of a single name it returns no tuple by itself
    class One(Record):
        """One field."""

        x: int = 1

    @dataclasses.dataclass(frozen=True)
    class Twin:
        x: int = 1

    assert hash(One(2)) == hash(Twin(2)) and One(2) == One(2) and One(2) != One(3) and repr(One(2)).endswith("One(x=2)")
