"""The config classes, loaded from a config, compare, hash and print as ``dataclass(frozen=True)`` would make them:
they are ``frozen.Record`` classes, for start-up CPU (issue 22); tests/property/test_frozen_props.py holds every
record to its dataclass twin on made-up values."""

from __future__ import annotations

import dataclasses

import pytest

from zdtriage import config_model as model
from zdtriage.config import parse

CLASSES = [*model.SECTIONS.values(), model.Config]
ENV = {"ZENDESK_API_TOKEN": "secret-token-1", "ANTHROPIC_API_KEY": "secret-key-2"}


def twin_of(cls: type) -> type:
    """The same fields through dataclass's own generated methods, under the same qualified name."""
    specs = [(f.name, f.type, dataclasses.field(default=f.default, default_factory=f.default_factory, repr=f.repr,
                                                 hash=f.hash, compare=f.compare)) for f in dataclasses.fields(cls)]
    twin = dataclasses.make_dataclass(cls.__name__, specs, frozen=True)
    twin.__qualname__ = cls.__qualname__
    return twin


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
