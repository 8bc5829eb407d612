"""zendesk-batch-triage: triage Zendesk tickets with Claude through the Message Batches API."""

from typing import Any


def __getattr__(name: str) -> Any:
    # one source for the version: pyproject.toml's [project] version, read from the installed metadata;
    # looked up only when asked, so commands that never need it do not import importlib.metadata
    if name == "__version__":
        from importlib.metadata import version

        return version("zendesk-batch-triage")
    raise AttributeError(f"module 'zdtriage' has no attribute {name!r}")
