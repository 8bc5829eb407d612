"""Every ``frozen.Record`` of the package behaves as the same class made by ``dataclass(frozen=True)``: the same
calls construct it to the same values or fail with ``TypeError``; instances compare, hash and print alike; no
field can be set or deleted (issue 22: records no longer compile their methods at import). The config classes
are held to their twins on a loaded config's values too."""

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
from zdtriage import config_model as model
from zdtriage.config import parse
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


# -- the config classes on a loaded config's values ----------------------------------------------------------------

CLASSES = [*model.SECTIONS.values(), model.Config]
ENV = {"ZENDESK_API_TOKEN": "secret-token-1", "ANTHROPIC_API_KEY": "secret-key-2"}


def values() -> dict[type, list[object]]:
    """Two instances of each class: its defaults (or the loaded config's), and one with other values."""
    one = parse({"zendesk": {"subdomain": "a", "email": "a@b.c"}}, ENV)
    two = parse({"zendesk": {"subdomain": "b", "email": "x@b.c", "auth": "oauth"}, "triage": {"retriage": True},
                 "budget": {"daily_usd": 0}, "prices": {"m": {"input": 1, "output": 2}},
                 "evaluate": {"category_field": 7, "category_map": {"x": "other"}}, "anthropic": {"max_tokens": 600},
                 "schedule": {"poll_every": 120}, "privacy": {"drop_text_after_write": True},
                 "state": {"keep_days": 30}, "writeback": {"mode": "tags"}, "metrics": {"port": 9100}}, ENV)
    out = {model.Config: [one, two]}
    for name, cls in model.SECTIONS.items():
        out[cls] = [getattr(one, name), getattr(two, name)]
    return out


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_eq_hash_and_repr_are_dataclasss(cls):
    twin = twin_of(cls)
    made = values()[cls]
    assert made[0] != made[1]  # the two differ, or this compares nothing
    for ours in made:
        theirs = twin(**{f.name: getattr(ours, f.name) for f in dataclasses.fields(cls)})
        assert repr(ours) == repr(theirs)
        assert hash(ours) == hash(theirs)
        same = dataclasses.replace(ours)
        assert same is not ours and same == ours and hash(same) == hash(ours)
        assert ours != theirs and ours.__eq__(theirs) is NotImplemented  # another class: never equal
        sub = type("Sub", (cls,), {})(**{f.name: getattr(ours, f.name) for f in dataclasses.fields(cls)})
        assert ours != sub and ours.__eq__(sub) is NotImplemented  # not even a subclass with the same values
        with pytest.raises(dataclasses.FrozenInstanceError):
            ours.__setattr__(dataclasses.fields(cls)[0].name, None)
    assert (made[0] == made[1]) == (twin(**vars(made[0])) == twin(**vars(made[1])))


def test_a_secret_is_never_in_the_repr():
    cfg = parse({"zendesk": {"subdomain": "a", "email": "a@b.c"}}, ENV)
    assert cfg.zendesk.token and cfg.anthropic.api_key
    assert "secret-token-1" not in repr(cfg) and "secret-key-2" not in repr(cfg)


# -- every record on made-up values ---------------------------------------------------------------------------------


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
