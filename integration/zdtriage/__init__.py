"""zendesk-batch-triage: triage Zendesk tickets with Claude through the Message Batches API."""

from typing import Any

DISTRIBUTION = "zendesk-batch-triage"


def __getattr__(name: str) -> Any:
    # one source for the version: pyproject.toml's [project] version, read from the installed metadata;
    # looked up only when asked, so commands that never need it do not import importlib.metadata
    if name == "__version__":
        return installed_version()
    raise AttributeError(f"module 'zdtriage' has no attribute {name!r}")


def installed_version() -> str:
    """The installed distribution's version (its ``METADATA``, written from pyproject.toml at install).

    Found as ``importlib.metadata.version`` finds it, the first ``*.dist-info`` of this distribution on
    ``sys.path``, without importing it (issue 22: it was most of ``zdtriage --version``'s start-up CPU).
    Anything else on the way (an ``.egg-info``, no Version line) is left to ``importlib.metadata``.
    """
    import os
    import sys

    wanted = DISTRIBUTION.replace("-", "_")
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:  # missing, a file, a zip: importlib.metadata would search it, we do not
            continue
        for name in names:
            stem, _, kind = name.rpartition(".")
            if stem.partition("-")[0].lower().replace(".", "_").replace("-", "_") != wanted:
                continue
            if kind == "dist-info":
                version = _metadata_version(os.path.join(entry or ".", name, "METADATA"))
                if version:
                    return version
            return _importlib_version()
    return _importlib_version()


def _metadata_version(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.startswith("Version:"):
                    return line[len("Version:"):].strip() or None
                if not line.strip():  # the headers end at the first empty line
                    return None
    except OSError:
        return None
    return None


def _importlib_version() -> str:
    from importlib.metadata import version

    return version(DISTRIBUTION)
