"""Note texts and what parseNote (assets/triage.js) must make of them; shared by the browser
and Node tests."""

PARSE_CASES = [
    (
        "AI triage \u2014 priority P1 \u00b7 category billing \u00b7 sentiment angry \u00b7 confidence 0.9"
        "\n\nDraft.\n\n"
        "\u2014 Draft by zendesk-batch-triage (triage-id zbt-7-3). Review before sending.",
        {"priority": "P1", "category": "billing", "sentiment": "angry", "confidence": 0.9,
         "draft": "Draft.", "triageId": "zbt-7-3", "ticketId": 7, "sequence": 3},
    ),
    (  # extra spaces, CRLF, no middle dots
        "  AI triage \u2014   priority  P3   category  technical  sentiment neutral   confidence  0.5 \r\n\r\n"
        "Line one\r\nLine two\r\n\r\n\r\n"
        "\u2014 Draft by zendesk-batch-triage (triage-id zbt-12-1). Review before sending.\r\n",
        {"priority": "P3", "category": "technical", "sentiment": "neutral", "confidence": 0.5,
         "draft": "Line one\nLine two", "triageId": "zbt-12-1"},
    ),
    (  # no header at all: everything above the footer is the draft
        "Just a draft.\n\nSecond paragraph.\n"
        "\u2014 Draft by zendesk-batch-triage (triage-id zbt-1-1). Review before sending.",
        {"priority": None, "confidence": None, "draft": "Just a draft.\n\nSecond paragraph."},
    ),
    (  # header lines right after each other until the first blank line are not draft
        "AI triage \u2014 priority P4 \u00b7 category other \u00b7 sentiment positive \u00b7 confidence 1\n"
        "(model note)\n\nThe draft\n\n\u2014 Draft by zendesk-batch-triage (triage-id zbt-1-2). Review before sending.",
        {"priority": "P4", "confidence": 1, "draft": "The draft"},
    ),
    ("AI triage \u2014 priority P1\n\nNo footer here.", None),
    (  # the footer must be the last line: text after it means someone pasted it
        "AI triage \u2014 priority P1\n\nPay now.\n\n"
        "\u2014 Draft by zendesk-batch-triage (triage-id zbt-1-1). Review before sending.\nP.S. urgent",
        None,
    ),
    (  # a confidence outside 0..1 is not a confidence
        "AI triage \u2014 priority P2 \u00b7 confidence 82\n\nDraft.\n\n"
        "\u2014 Draft by zendesk-batch-triage (triage-id zbt-3-2). Review before sending.",
        {"priority": "P2", "confidence": None, "ticketId": 3, "sequence": 2},
    ),
    ("Draft by zendesk-batch-triage is mentioned mid-line \u2014 not a footer.", None),
    (  # NOTE_FORMAT.md: cited articles and a macro between the draft and the footer are not draft
        "AI triage \u2014 priority P2 \u00b7 category billing\n\nHi,\nrefunded.\n\n"
        "Help Center articles:\n- Refunds <https://acme.zendesk.com/hc/en-us/articles/1-Refunds>\n"
        "- Invoices & VAT <https://help.acme.com/hc/en-us/articles/2>\nSuggested macro: Refund issued\n\n"
        "\u2014 Draft by zendesk-batch-triage (triage-id zbt-4-1). Review before sending.",
        {"draft": "Hi,\nrefunded.", "macro": "Refund issued",
         "articles": [{"title": "Refunds", "url": "https://acme.zendesk.com/hc/en-us/articles/1-Refunds"},
                      {"title": "Invoices & VAT", "url": "https://help.acme.com/hc/en-us/articles/2"}]},
    ),
    (  # a macro alone
        "AI triage \u2014 priority P3\n\nHello.\n\nSuggested macro: Password reset\n\n"
        "\u2014 Draft by zendesk-batch-triage (triage-id zbt-4-2). Review before sending.",
        {"draft": "Hello.", "macro": "Password reset", "articles": []},
    ),
    (  # article-like lines without the heading stay in the draft
        "AI triage \u2014 priority P3\n\nSee:\n- Refunds <https://acme.zendesk.com/hc/en-us/articles/1>\n\n"
        "\u2014 Draft by zendesk-batch-triage (triage-id zbt-4-3). Review before sending.",
        {"draft": "See:\n- Refunds <https://acme.zendesk.com/hc/en-us/articles/1>", "macro": None, "articles": []},
    ),
]
