"""A shared account: follow-up tickets that inherit our tags, merges, and who wrote a comment (issue 23
items 1 and 7; DESIGN §7 "Follow-up tickets", "Comment authors")."""

from __future__ import annotations

import json

from zdtriage import pipeline, prompt
from zdtriage.sim.zendesk_store import BOT_USER_ID
from zdtriage.stages import conversations, ingest, submit, writeback
from zdtriage.store import tickets as queue

KINDS = ("priority", "category", "sentiment", "lang")


def our_notes(ticket):
    return [c for c in ticket["comments"] if prompt.NOTE_FOOTER in (c["body"] or "") and c["author_id"] == BOT_USER_ID]


def value_tags(tags, kind):
    return {t for t in tags if t.startswith(f"ai_{kind}_")}


def triaged_then_closed(zsim, make_ctx, clock, drive, **sections):
    """One ticket triaged (note + tags), then closed: the origin of follow-ups."""
    origin = zsim.add_ticket(subject="Help needed", created_at=int(clock()) - 3600,
                             description="URGENT: production is down, every user is locked out, the API "
                                         "answers 500 since this morning. Critical outage!")["id"]
    ctx = make_ctx(**sections)
    drive(ctx, clock)
    assert queue.get(ctx.db, origin)["state"] == "written"
    zsim.close(origin)
    return ctx, origin


def test_two_follow_ups_of_a_triaged_closed_ticket_are_each_triaged_on_their_own_answer(zsim, make_ctx, clock,
                                                                                         drive):
    ctx, origin = triaged_then_closed(zsim, make_ctx, clock, drive)
    inherited = set(zsim.ticket(origin)["tags"])
    assert {"ai_triaged", "ai_priority_p1"} <= inherited
    first = zsim.add_customer_reply(origin, "Thanks, all good now. Quick question: can I get a copy of the "
                                            "invoice for last month?")
    second = zsim.add_customer_reply(origin, "How do I change the e-mail address of my account?")
    follow_ups = [first["id"], second["id"]]
    for f in (first, second):
        assert f["followup_source"] == origin and set(f["tags"]) == inherited  # Zendesk copies every tag
    clock.advance(120)
    drive(ctx, clock)

    for ticket_id in follow_ups:
        row = queue.get(ctx.db, ticket_id)
        assert row["state"] == "written", row["last_error"]  # never skipped because of the copied marker
        ticket = zsim.ticket(ticket_id)
        (note,) = our_notes(ticket)
        assert prompt.is_our_note(note["body"], public=note["public"], author_id=note["author_id"],
                                  bot_user_id=BOT_USER_ID, ticket_id=ticket_id, triage_n=1)
        answer = json.loads(row["answer"])
        tags = set(ticket["tags"])
        assert set(prompt.triage_tags(answer, ctx.config.triage)) <= tags
        for kind in KINDS:  # an inherited value the answer does not repeat is gone: one value per kind
            assert len(value_tags(tags, kind)) <= 1, tags
        assert "ai_priority_p1" not in tags  # a thank-you and a question are not the origin's outage
    assert len(our_notes(zsim.ticket(origin))) == 1  # the closed origin is not written again


def test_a_copied_marker_does_not_settle_the_follow_ups_write(zsim, make_ctx, clock, drive):
    ctx, origin = triaged_then_closed(zsim, make_ctx, clock, drive)
    follow = zsim.add_customer_reply(origin, "How do I change the e-mail address of my account?")["id"]
    clock.advance(120)
    zsim.job_complete_after_seconds = 3600  # the update job is slow: only its status or the note can tell
    for _ in range(6):
        pipeline.run_once(ctx)
        clock.advance(61)
        if queue.get(ctx.db, follow)["write_job_id"]:
            break
    row = queue.get(ctx.db, follow)
    assert row["write_job_id"] and row["state"] == "answered"
    zsim.close(follow)  # the job will fail: "Status: closed prevents ticket update"
    clock.advance(61)
    ingest.ingest(ctx)  # the export shows the follow-up with the (copied) marker
    assert queue.get(ctx.db, follow)["state"] == "answered"  # not "written" on the tag's word
    clock.advance(3600)
    writeback.writeback(ctx)
    assert queue.get(ctx.db, follow)["state"] == "skipped"
    assert our_notes(zsim.ticket(follow)) == []


def test_a_marker_with_our_note_for_its_own_id_is_skipped_and_one_without_is_triaged(zsim, make_ctx, clock, drive,
                                                                                    tmp_path):
    # a state database that was lost: the ticket shows our marker and our note for its own id
    ctx, _origin = triaged_then_closed(zsim, make_ctx, clock, drive)
    ours = zsim.add_ticket(subject="Written before the restore", description="Where is my parcel?",
                           created_at=int(clock()) - 7200, tags=["ai_triaged", "ai_priority_p4"])["id"]
    zsim.bulk_update([ours], {"comment": {"public": False, "author_id": BOT_USER_ID,
                                          "body": f"AI triage — …\n\n{prompt.note_footer(ours, 1)}"}},
                     at=int(clock()), author_id=BOT_USER_ID)
    # a marker someone put on a ticket by hand, changed since: no note of ours, so it is ours to triage
    foreign = zsim.add_ticket(subject="Tagged by a macro", description="The export to CSV fails with an error.",
                              created_at=int(clock()) - 7200, tags=["ai_triaged"],
                              comments=[{"body": "Looking into it.", "author": "agent",
                                         "created_at": int(clock())}])["id"]
    clock.advance(120)
    drive(ctx, clock)
    assert queue.get(ctx.db, ours)["state"] == "skipped"
    assert "triage-id zbt-" in queue.get(ctx.db, ours)["last_error"]
    assert len(our_notes(zsim.ticket(ours))) == 1
    assert queue.get(ctx.db, foreign)["state"] == "written"
    assert len(our_notes(zsim.ticket(foreign))) == 1


def test_a_merged_source_is_skipped_and_the_merge_target_re_triaged_when_on(zsim, make_ctx, clock, drive):
    target = zsim.add_ticket(subject="Cannot log in", created_at=int(clock()) - 3600,
                             description="I cannot log in to my account since yesterday.")["id"]
    ctx = make_ctx(triage={"retriage": True})
    drive(ctx, clock)
    assert queue.get(ctx.db, target)["state"] == "written"
    source = zsim.add_ticket(subject="Login again",
                             description="Still cannot log in, and now the whole team is locked out!")["id"]
    clock.advance(120)
    ingest.ingest(ctx)
    assert queue.get(ctx.db, source)["state"] == "queued"
    zsim.merge(source, target, public=False)
    clock.advance(120)
    drive(ctx, clock)
    assert queue.get(ctx.db, source)["state"] == "skipped"
    assert our_notes(zsim.ticket(source)) == []
    notes = our_notes(zsim.ticket(target))
    assert len(notes) == 2
    assert prompt.is_our_note(notes[1]["body"], public=notes[1]["public"], author_id=notes[1]["author_id"],
                              bot_user_id=BOT_USER_ID, ticket_id=target, triage_n=2)


def test_a_merge_target_is_not_re_triaged_with_retriage_off(zsim, make_ctx, clock, drive):
    target = zsim.add_ticket(subject="Cannot log in", created_at=int(clock()) - 3600,
                             description="I cannot log in to my account since yesterday.")["id"]
    source = zsim.add_ticket(subject="Login again", created_at=int(clock()) - 3600,
                             description="Still cannot log in.")["id"]
    ctx = make_ctx()
    drive(ctx, clock)
    zsim.merge(source, target)
    clock.advance(120)
    drive(ctx, clock)
    assert len(our_notes(zsim.ticket(target))) == 1


def test_a_ccd_end_users_comment_is_labelled_customer_side_not_agent(zsim, make_ctx, clock):
    ticket_id = zsim.add_ticket(
        subject="Reports", created_at=int(clock()) - 7200, description="Our monthly report looks odd.",
        comments=[{"body": "We will have a look.", "author": "agent", "created_at": int(clock()) - 5400},
                  {"body": "Colleague here: the report is empty for all users.", "author": "cc",
                   "created_at": int(clock()) - 3600}])["id"]
    ctx = make_ctx()
    ingest.ingest(ctx)
    conversations.sync(ctx)  # the comments, then their authors' roles (users/show_many)
    content = submit.build_request(ctx, queue.get(ctx.db, ticket_id))["params"]["messages"][0]["content"]
    assert "[end-user]\nColleague here: the report is empty for all users." in content
    assert "[agent]\nWe will have a look." in content
    assert "[customer]\nOur monthly report looks odd." in content
    assert zsim.call_counts().get("GET /api/v2/users/show_many.json") == 1
    conversations.sync(ctx)
    assert zsim.call_counts().get("GET /api/v2/users/show_many.json") == 1  # read once and kept
