"""Build the vcrpy cassettes of tests/adapters/ from the recorded real responses.

    .venv/bin/python tests/cassettes/build_cassettes.py           # (re)write tests/cassettes/*.yaml + README.md
    .venv/bin/python tests/cassettes/build_cassettes.py --check   # exit 1 if a file differs from a rebuild

Every cassette is one scenario. Each interaction pairs

- a **request** that is what *our* adapter sends for the call the test makes (method, URI, and for
  writes the JSON body; ``https://example.zendesk.com/api/v2/…`` as zenpy builds it for subdomain
  ``example``, ``https://api.anthropic.com/v1/…`` as the anthropic SDK builds it) with **no**
  credential headers at all (only ``content-type`` where there is a body), and
- a **response** whose status, headers and body come unchanged from one file of
  ``tests/fixtures/real/`` (provenance in ``tests/fixtures/real/SOURCES.md``). JSON bodies are
  re-serialised compactly, or with ``", "``/``": "`` separators when that is what the recorded
  ``content-length`` says; results are JSON Lines (``raw_lines`` verbatim where recorded).

The only additions to recorded headers: ``content-type`` where the fixture recorded no headers at
all (issue quotes, ellmer's state file, the Delphi guide paste): ``application/json``, and for the
results stream ``application/x-jsonl`` (the content type SOURCES.md cites for results).

One envelope is not recorded: ``GET /job_statuses/show_many.json`` answers
``{"job_statuses": [<job_status>, ...]}`` (Zendesk Job Statuses docs, "Show Many Job Statuses"); those
cassettes put the recorded ``job_status`` objects, unchanged, inside it (``Step.show_many``), drop the
recorded ``content-length`` (the body is longer) and leave out the jobs the scenario says are gone.

The tests never rebuild these files; tests/adapters/test_*_cassettes.py check that a rebuild
gives the same bytes and that no credential header is in any cassette.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

from vcr.request import Request
from vcr.serialize import serialize
from vcr.serializers import yamlserializer

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "real"

ZENDESK = "https://example.zendesk.com/api/v2"
ANTHROPIC = "https://api.anthropic.com/v1"

# request headers that must never be written to a cassette (checked again by the tests)
SECRET_HEADERS = frozenset({"authorization", "x-api-key", "cookie", "set-cookie", "proxy-authorization"})

# our update_many body: additional_tags (add, never replace) and a private note; id from the recording
UPDATE_MANY_BODY = {
    "tickets": [
        {
            "id": 4012,
            "additional_tags": ["ai_p2", "ai_billing", "ai_neutral"],
            "comment": {"body": "AI triage: P2 · billing · neutral", "public": False},
        }
    ]
}
# the request of batch-create.json, sent again as it was recorded
BATCH_CREATE_BODY = json.loads((FIXTURES / "anthropic" / "batch-create.json").read_text(encoding="utf-8"))["request"][
    "body"
]
# a small body for the error cases (the batch request body is not what those cassettes are about)
ERROR_CREATE_BODY = {
    "requests": [
        {"custom_id": "t-1", "params": {"model": "claude-haiku-4-5", "max_tokens": 512,
                                         "messages": [{"role": "user", "content": "hi"}]}}
    ]
}


@dataclass(frozen=True)
class Step:
    """One interaction: our request, the fixture that answers it."""

    method: str
    uri: str
    fixture: str  # path under tests/fixtures/real/
    body: dict[str, Any] | None = None  # JSON request body we send
    jsonl: tuple[tuple[str, str], ...] = ()  # results stream: (fixture, "raw_lines" | "body") parts, in order
    why: str = ""  # how the request differs from the recorded one, if it does
    show_many: tuple[str, ...] = ()  # job-status fixtures whose job_status objects fill {"job_statuses": [...]}


@dataclass(frozen=True)
class Scenario:
    name: str
    what: str
    steps: tuple[Step, ...] = field(default_factory=tuple)


EXPORT = f"{ZENDESK}/incremental/tickets/cursor.json"
JOBS = f"{ZENDESK}/job_statuses/show_many.json"
SHOW_MANY_WHY = "the recorded job_status objects inside the documented show_many envelope {\"job_statuses\": [...]}"
BATCHES = f"{ANTHROPIC}/messages/batches"
ENDED_BATCH = "msgbatch_011R1x8g28xYbJecnEni5jca"

SCENARIOS: tuple[Scenario, ...] = (
    # --- Zendesk: incremental cursor export -----------------------------------------------------
    Scenario("zendesk_export_first_page", "fetch_ticket_page(start_time=0, per_page=1): a full first page", (
        Step("GET", f"{EXPORT}?start_time=0&per_page=1", "zendesk/incremental-tickets-cursor-first-page.json"),
    )),
    Scenario("zendesk_export_second_page", "fetch_ticket_page(cursor=…): the next page, still not the end", (
        Step("GET", f"{EXPORT}?cursor=MTY5NDMwMzUyNi4wfHwxfA==", "zendesk/incremental-tickets-cursor-second-page.json",
             why="zenpy sends only cursor= on a cursor page (the recording also had per_page=1)"),
    )),
    Scenario("zendesk_export_final_page", "fetch_ticket_page(cursor=…): the empty terminal page", (
        Step("GET", f"{EXPORT}?cursor=MTY5NDMwNTAxMi4wfHwyfA==",
             "zendesk/incremental-tickets-cursor-empty-final-page.json",
             why="zenpy sends only cursor= on a cursor page (the recording also had per_page=1)"),
    )),
    Scenario("zendesk_export_walk", "first → second → final page, following after_cursor until end_of_stream", (
        Step("GET", f"{EXPORT}?start_time=0&per_page=1", "zendesk/incremental-tickets-cursor-first-page.json"),
        Step("GET", f"{EXPORT}?cursor=MTY5NDMwMzUyNi4wfHwxfA==", "zendesk/incremental-tickets-cursor-second-page.json",
             why="zenpy sends only cursor= on a cursor page"),
        Step("GET", f"{EXPORT}?cursor=MTY5NDMwNTAxMi4wfHwyfA==",
             "zendesk/incremental-tickets-cursor-empty-final-page.json",
             why="zenpy sends only cursor= on a cursor page"),
    )),
    Scenario("zendesk_export_single_page_eos",
             "fetch_ticket_page(start_time=0): end_of_stream true while after_cursor is set", (
        Step("GET", f"{EXPORT}?start_time=0&per_page=1000", "zendesk/incremental-tickets-cursor-single-page-eos.json",
             why="our adapter always sends per_page=1000 (the recording sent none)"),
    )),
    Scenario("zendesk_export_429", "fetch_ticket_page(start_time=…): the export rate limit, Retry-After 10", (
        Step("GET", f"{EXPORT}?start_time=1694305080&per_page=1000", "zendesk/incremental-export-429.json",
             why="recorded on incremental/users.json (same 10-a-minute export limit); served on the ticket export"),
    )),
    # --- Zendesk: reads ---------------------------------------------------------------------------
    Scenario("zendesk_ticket_comments", "fetch_comments(33): one cursor page of comments, has_more false", (
        Step("GET", f"{ZENDESK}/tickets/33/comments.json?page%5Bsize%5D=100&include_inline_images=false",
             "zendesk/ticket-comments-cursor.json"),
    )),
    Scenario("zendesk_show_many", "fetch_tickets([2785]): show_many", (
        Step("GET", f"{ZENDESK}/tickets/show_many.json?ids=2785", "zendesk/tickets-show-many.json"),
    )),
    # --- Zendesk: write and job status ----------------------------------------------------------
    Scenario("zendesk_update_many",
             "write_updates([...]): update_many queued, our body with additional_tags + private note", (
        Step("PUT", f"{ZENDESK}/tickets/update_many.json", "zendesk/tickets-update-many-queued.json",
             body=UPDATE_MANY_BODY,
             why="request body is ours (tags + internal note); the recording updated subject/description of the "
                 "same ticket"),
    )),
    Scenario("zendesk_job_completed", "fetch_jobs([...]): a completed ticket-update job (show_many)", (
        Step("GET", f"{JOBS}?ids=V3-8b32e60d85c68fd120a252e8becc6faa",
             "zendesk/job-status-completed-ticket-update.json",
             show_many=("zendesk/job-status-completed-ticket-update.json",), why=SHOW_MANY_WHY),
    )),
    Scenario("zendesk_job_completed_with_errors",
             "fetch_jobs([...]): a completed job whose items all failed (show_many)", (
        Step("GET", f"{JOBS}?ids=V3-1207fa1c4584f2c28560ca1dbfef6bf2", "zendesk/job-status-completed-with-errors.json",
             show_many=("zendesk/job-status-completed-with-errors.json",), why=SHOW_MANY_WHY),
    )),
    Scenario("zendesk_job_working", "fetch_jobs([...]): a job still working (show_many)", (
        Step("GET", f"{JOBS}?ids=V3-47ed156789697d342091e8d273f50b5d", "zendesk/job-status-working.json",
             show_many=("zendesk/job-status-working.json",), why=SHOW_MANY_WHY),
    )),
    Scenario("zendesk_job_missing", "fetch_jobs([gone, done, working]): one show_many call; the gone job is left out", (
        Step("GET", f"{JOBS}?ids=V3-00000000000000000000000000000000%2CV3-8b32e60d85c68fd120a252e8becc6faa"
                    "%2CV3-47ed156789697d342091e8d273f50b5d",
             "zendesk/job-status-completed-ticket-update.json",
             show_many=("zendesk/job-status-completed-ticket-update.json", "zendesk/job-status-working.json"),
             why=SHOW_MANY_WHY + "; show_many leaves out a job it no longer knows"),
    )),
    # --- Anthropic: Message Batches -------------------------------------------------------------
    Scenario("anthropic_batch_create", "create_batch(the recorded requests): 200 in_progress", (
        Step("POST", BATCHES, "anthropic/batch-create.json", body=BATCH_CREATE_BODY),
    )),
    Scenario("anthropic_batch_retrieve_ended", "retrieve_batch(id): ended, with results_url", (
        Step("GET", f"{BATCHES}/{ENDED_BATCH}", "anthropic/batch-retrieve-ended.json"),
    )),
    Scenario("anthropic_batch_list", "list_recent_batches(limit=1): one list page", (
        Step("GET", f"{BATCHES}?limit=1", "anthropic/batch-list.json"),
    )),
    Scenario("anthropic_batch_results", "iter_results(id): the SDK retrieves the batch, then streams results_url", (
        Step("GET", f"{BATCHES}/{ENDED_BATCH}", "anthropic/batch-retrieve-ended.json"),
        Step("GET", f"{BATCHES}/{ENDED_BATCH}/results", "anthropic/batch-results-succeeded.json",
             jsonl=(("anthropic/batch-results-succeeded.json", "raw_lines"),
                    ("anthropic/batch-result-errored-line.json", "body")),
             why="lines recorded for batch msgbatch_01LAMivETDrH9q5hno9RAQRs (two succeeded) plus one errored line "
                 "from another recording, served at the results_url of the recorded ended batch"),
    )),
    Scenario("anthropic_create_429", "create_batch: 429 rate_limit_error", (
        Step("POST", BATCHES, "anthropic/error-429-rate-limit-issue.json", body=ERROR_CREATE_BODY,
             why="quoted from a POST /v1/messages 429; served on the batch create"),
    )),
    Scenario("anthropic_create_529", "create_batch: 529 overloaded_error", (
        Step("POST", BATCHES, "anthropic/error-529-overloaded-issue.json", body=ERROR_CREATE_BODY,
             why="quoted from a POST /v1/messages 529; served on the batch create"),
    )),
    Scenario("anthropic_create_400", "create_batch: 400 invalid_request_error", (
        Step("POST", BATCHES, "anthropic/error-400-invalid-request.json", body=ERROR_CREATE_BODY,
             why="recorded on POST /v1/messages?beta=true; served on the batch create"),
    )),
    Scenario("anthropic_create_401", "create_batch: 401 authentication_error (recorded on this very endpoint)", (
        Step("POST", BATCHES, "anthropic/error-401-invalid-key.json", body=ERROR_CREATE_BODY),
    )),
)


def load_fixture(rel: str) -> dict[str, Any]:
    return json.loads((FIXTURES / rel).read_text(encoding="utf-8"))


def _json_bytes(body: Any, content_length: str | None) -> bytes:
    """Compact JSON, or the separators whose length the recorded content-length confirms."""
    options = [(",", ":"), (", ", ": ")]
    for separators in options:
        data = json.dumps(body, separators=separators, ensure_ascii=False).encode("utf-8")
        if content_length is None or len(data) == int(content_length):
            return data
    raise SystemExit(f"no JSON serialisation of the body matches content-length {content_length}")


def _response(step: Step) -> dict[str, Any]:
    fx = load_fixture(step.fixture)
    headers = {k.lower(): str(v) for k, v in fx["headers"].items()}
    if step.jsonl:
        lines: list[str] = []
        for rel, key in step.jsonl:
            part = load_fixture(rel)
            if key == "raw_lines":
                lines.extend(part["raw_lines"])
            else:
                lines.extend(json.dumps(item, separators=(",", ":"), ensure_ascii=False) for item in part["body"])
        data = ("\n".join(lines) + "\n").encode("utf-8")
        headers.setdefault("content-type", "application/x-jsonl")
    elif step.show_many:
        body = {"job_statuses": [load_fixture(rel)["body"]["job_status"] for rel in step.show_many]}
        headers.pop("content-length", None)
        data = _json_bytes(body, None)
        headers.setdefault("content-type", "application/json")
    else:
        data = _json_bytes(fx["body"], headers.get("content-length"))
        headers.setdefault("content-type", "application/json")
    if "content-length" in headers and int(headers["content-length"]) != len(data):
        raise SystemExit(f"{step.fixture}: content-length {headers['content-length']} != {len(data)} bytes")
    status = int(fx["status"])
    try:
        message = HTTPStatus(status).phrase
    except ValueError:
        message = ""  # 529 has no standard phrase
    return {
        "status": {"code": status, "message": message},
        "headers": {k: [v] for k, v in sorted(headers.items())},
        "body": {"string": data.decode("utf-8")},
    }


def _request(step: Step) -> Request:
    headers: dict[str, str] = {}
    body = None
    if step.body is not None:
        body = json.dumps(step.body, ensure_ascii=False).encode("utf-8")
        headers["content-type"] = "application/json"
    assert not SECRET_HEADERS & {h.lower() for h in headers}
    return Request(step.method, step.uri, body, headers)


def header_comment(scenario: Scenario) -> str:
    lines = [
        f"# {scenario.name}: {scenario.what}",
        "# Built by tests/cassettes/build_cassettes.py from tests/fixtures/real/ (provenance: SOURCES.md there).",
        "# Do not edit by hand: change the script and rebuild.",
    ]
    for i, step in enumerate(scenario.steps):
        sources = [step.fixture] + [rel for rel, _ in step.jsonl if rel != step.fixture]
        sources += [rel for rel in step.show_many if rel not in sources]
        lines.append(f"# [{i}] {step.method} {step.uri}")
        lines.append(f"#     response: {' + '.join(sources)}")
        if step.why:
            lines.append(f"#     note: {step.why}")
    return "\n".join(lines) + "\n"


def render_cassette(scenario: Scenario) -> str:
    cassette = {"requests": [_request(s) for s in scenario.steps], "responses": [_response(s) for s in scenario.steps]}
    return header_comment(scenario) + serialize(cassette, yamlserializer)


def render_readme() -> str:
    out = [
        "# vcrpy cassettes for the Zendesk and Anthropic adapters",
        "",
        "Generated by `build_cassettes.py` (this file too); used by `tests/adapters/test_*_cassettes.py` with",
        '`record_mode="none"`, so no test ever reaches the network. Rebuild after changing the script:',
        "",
        "    .venv/bin/python tests/cassettes/build_cassettes.py",
        "",
        "Requests are what our adapters send (no credential headers); responses are the recorded real",
        "responses of `tests/fixtures/real/` (provenance in its SOURCES.md): status, headers and body unchanged,",
        "JSON re-serialised, results as JSON Lines. `content-type` is added only where the fixture recorded no",
        "headers (`application/json`; `application/x-jsonl` for results).",
        "",
        "| cassette | scenario | request(s) | response fixture(s) | note |",
        "|---|---|---|---|---|",
    ]
    for sc in SCENARIOS:
        for i, step in enumerate(sc.steps):
            sources = [step.fixture] + [rel for rel, _ in step.jsonl if rel != step.fixture]
            sources += [rel for rel in step.show_many if rel not in sources]
            first = i == 0
            path = step.uri.split("://", 1)[1]
            out.append(
                f"| {f'`{sc.name}.yaml`' if first else ''} | {sc.what if first else ''} | `{step.method} {path}` | "
                f"{', '.join(f'`{s}`' for s in sources)} | {step.why} |"
            )
    return "\n".join(out) + "\n"


def render_all() -> dict[str, str]:
    """File name → text of every generated file (the tests compare this with the files on disk)."""
    files = {f"{sc.name}.yaml": render_cassette(sc) for sc in SCENARIOS}
    files["README.md"] = render_readme()
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare with the files on disk")
    args = parser.parse_args(argv)
    files = render_all()
    stale = sorted(p.name for p in HERE.glob("*.yaml") if p.name not in files)
    if args.check:
        bad = [n for n, t in files.items() if not (HERE / n).exists() or (HERE / n).read_text(encoding="utf-8") != t]
        for name in bad + stale:
            print(f"differs from a rebuild: {name}", file=sys.stderr)
        return 1 if bad or stale else 0
    for name in stale:
        (HERE / name).unlink()
    for name, text in files.items():
        (HERE / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(files)} files to {HERE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
