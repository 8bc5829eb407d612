"""zendesk-batch-triage: triage Zendesk tickets with Claude through the Message Batches API."""

from importlib.metadata import version

# one source for the version: pyproject.toml's [project] version, read from the installed metadata
__version__ = version("zendesk-batch-triage")
