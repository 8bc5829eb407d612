"""The house stays easy to see (docs/development.md "Code map"): network code never touches the database, the database
never touches a network, pure code imports no client, and only the store writes a ticket's row."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "integration" / "zdtriage"
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "sim" not in p.relative_to(PACKAGE).parts)

NETWORK = {"zendesk.py", "zendesk_http.py", "zendesk_limit.py", "zendesk_hc.py", "zendesk_admin.py", "batches.py"}
STORE = PACKAGE / "store"
PURE = {"prompt.py", "answer.py", "retrieval.py", "pricing.py", "redact.py", "timeutil.py", "text.py", "config.py",
        "config_model.py", "config_values.py", "config_sources.py", "doctor.py", "frozen.py"}
CLIENTS = {"zenpy", "anthropic", "requests", "httpx", "urllib3"}
DATABASE = {"sqlite3", "sqlite_utils"}


def _name(path: Path) -> str:
    return ".".join(("zdtriage", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")


def imports(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found.add(module)
            found.update(f"{module}.{a.name}" for a in node.names)
    return found


def _top(names: set[str]) -> set[str]:
    return {n.split(".")[0] for n in names}


def _is(names: set[str], prefix: str) -> bool:
    return any(n == prefix or n.startswith(prefix + ".") for n in names)


@pytest.mark.parametrize("name", sorted(NETWORK))
def test_network_modules_never_import_the_store_a_stage_or_a_database(name):
    found = imports(PACKAGE / name)
    for forbidden in ("zdtriage.store", "zdtriage.stages", "zdtriage.pipeline", "zdtriage.budget",
                      "zdtriage.reports"):
        assert not _is(found, forbidden), f"{name} imports {forbidden}"
    assert not _top(found) & DATABASE


def test_the_store_never_imports_a_network_module_or_client():
    for path in STORE.rglob("*.py"):
        found = imports(path)
        assert not _is(found, "zdtriage.zendesk") and not _is(found, "zdtriage.batches"), path
        assert not _top(found) & CLIENTS, path


@pytest.mark.parametrize("name", sorted(PURE))
def test_pure_modules_import_no_client_and_no_database(name):
    found = imports(PACKAGE / name)
    assert not _top(found) & (CLIENTS | DATABASE), name
    assert not _is(found, "zdtriage.store") and not _is(found, "zdtriage.zendesk")


def test_frozen_records_import_nothing_of_the_package():
    # every record of status's path subclasses it: an import here would be paid by every command
    assert not _is(imports(PACKAGE / "frozen.py"), "zdtriage")


_WRITES_TICKETS = re.compile(
    r"\b(update\s+tickets\s+set|insert\s+(or\s+\w+\s+)?into\s+tickets|delete\s+from\s+tickets)\b", re.IGNORECASE
)


def ticket_writes(path: Path) -> list[str]:
    """SQL strings that write the tickets table, and ``db["tickets"].insert/update/…`` calls, in ``path``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _WRITES_TICKETS.search(node.value):
            out.append(node.value.strip()[:60])
        if (isinstance(node, ast.Attribute) and node.attr in {"insert", "insert_all", "update", "upsert", "upsert_all",
                                                              "delete", "delete_where"}
                and isinstance(node.value, ast.Subscript) and isinstance(node.value.slice, ast.Constant)
                and node.value.slice.value == "tickets"):
            out.append(f'["tickets"].{node.attr}')
    return out


def test_only_the_store_writes_a_tickets_row():
    offenders = {str(p.relative_to(PACKAGE)): ticket_writes(p) for p in MODULES
                 if STORE not in p.parents and ticket_writes(p)}
    assert offenders == {}


def test_the_check_itself_sees_a_raw_state_update(tmp_path):
    sample = tmp_path / "stage.py"
    sample.write_text('db.execute("update tickets set state = \'queued\' where id = ?", [1])\n'
                      'db["tickets"].update(1, {"state": "dead"})\n')
    assert len(ticket_writes(sample)) == 2


def test_modules_stay_small():
    sizes = {str(p.relative_to(PACKAGE)): len(p.read_text(encoding="utf-8").splitlines()) for p in MODULES}
    assert {name: n for name, n in sizes.items() if n > 450} == {}


def test_the_simulators_never_import_the_service():
    for path in (PACKAGE / "sim").rglob("*.py"):
        ours = {n for n in imports(path) if n.startswith("zdtriage.")}
        assert all(n.startswith("zdtriage.sim") for n in ours), (path, ours)


def _graph() -> dict[str, set[str]]:
    """Module → the package's modules it imports (at the top, in a function, or for type checking alike);
    a module's own parent packages are not edges (Python loads them first, whatever the module says)."""
    paths = sorted(PACKAGE.rglob("*.py"))
    known = {_name(p) for p in paths}
    graph: dict[str, set[str]] = {}
    for path in paths:
        me = _name(path)
        edges = set()
        for name in imports(path):
            while name and name not in known:  # zdtriage.store.tickets.Intent → zdtriage.store.tickets
                name = name.rpartition(".")[0]
            if name and name != me and not me.startswith(name + "."):
                edges.add(name)
        graph[me] = edges
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def test_no_import_circle_inside_the_package():
    assert _circles(_graph()) == []


def test_the_circle_check_itself_sees_a_circle():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
