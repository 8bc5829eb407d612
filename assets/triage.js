/*
 * Pure parsing for the AI Triage sidebar: no DOM, no ZAF. Works in the browser (window.ZBTriage)
 * and under Node (module.exports), so it can be unit-tested without a browser.
 *
 * Formats (written by the zendesk-batch-triage service, see DESIGN.md section 5):
 *   tags   <prefix>priority_p1..p4, <prefix>category_<c>, <prefix>sentiment_<s>, <prefix>lang_<xx>,
 *          <prefix>confidence_low, <prefix>triaged, <prefix>failed,
 *          and from this app <prefix>draft_used / <prefix>draft_rejected
 *   note   an internal comment:
 *            AI triage — priority P2 · category billing · sentiment negative · confidence 0.82
 *            <blank line>
 *            <draft, possibly several paragraphs>
 *            <blank line>
 *            — Draft by zendesk-batch-triage (triage-id zbt-<ticket_id>-<n>). Review before sending.
 *          The footer line is the reliable marker; the header is parsed leniently.
 */
(function (root, factory) {
  'use strict';
  var api = factory();
  if (typeof module === 'object' && module.exports) {
    module.exports = api;
  } else {
    root.ZBTriage = api;
  }
}(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  var DEFAULT_PREFIX = 'ai_';
  var FOOTER_RE = /^[ \t]*[\u2014\u2013-]{1,2}[ \t]*Draft by zendesk-batch-triage\b/;
  var HEADER_RE = /^[ \t]*AI triage[ \t]*[\u2014\u2013:-]+/i;
  var TRIAGE_ID_RE = /triage-id[ \t:]*(zbt-(\d+)-(\d+))/i;
  // Zendesk renders comment bodies as paragraphs and line breaks; only such markup means HTML.
  var LOOKS_LIKE_HTML = /<(p|div|br)\b[^>]*>/i;

  var NAMED_ENTITIES = {
    amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ',
    mdash: '\u2014', ndash: '\u2013', middot: '\u00b7', hellip: '\u2026',
    lsquo: '\u2018', rsquo: '\u2019', ldquo: '\u201c', rdquo: '\u201d'
  };

  function decodeEntities(text) {
    return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, function (whole, name) {
      if (name.charAt(0) === '#') {
        var code = name.charAt(1).toLowerCase() === 'x'
          ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
        if (!isFinite(code) || code < 0 || code > 0x10ffff) {
          return whole;
        }
        try {
          return String.fromCodePoint(code);
        } catch (e) {
          return whole;
        }
      }
      var known = NAMED_ENTITIES[name.toLowerCase()];
      return known === undefined ? whole : known;
    });
  }

  /* Zendesk hands comments to apps as HTML (<p>, <br>, entities). Turn that into plain text with
   * string operations only: the result is later shown with textContent, never parsed as markup. */
  function htmlToText(html) {
    var text = String(html == null ? '' : html);
    text = text.replace(/\r\n?/g, '\n');
    text = text.replace(/<(script|style)\b[\s\S]*?<\/\1\s*>/gi, '');
    text = text.replace(/<!--[\s\S]*?-->/g, '');
    // Newlines next to tags are source formatting, not line breaks.
    text = text.replace(/>[ \t]*\n\s*/g, '>').replace(/\s*\n[ \t]*</g, '<');
    text = text.replace(/<br\s*\/?>/gi, '\n');
    text = text.replace(/<\/(p|div|blockquote|pre|h[1-6]|ul|ol|table)\s*>/gi, '\n\n');
    text = text.replace(/<\/(li|tr)\s*>/gi, '\n');
    text = text.replace(/<[^>]*>/g, '');
    text = decodeEntities(text);
    text = text.replace(/\u00a0/g, ' ');
    text = text.replace(/[ \t]+\n/g, '\n').replace(/\n[ \t]+/g, '\n');
    text = text.replace(/\n{3,}/g, '\n\n');
    return text.trim();
  }

  /* Plain text of a ZAF comment object (value is HTML) or a REST comment (body / plain_body). */
  function commentText(comment) {
    if (comment == null) {
      return '';
    }
    if (typeof comment === 'string') {
      return normaliseText(comment);
    }
    var raw = comment.value;
    if (raw == null) {
      raw = comment.plain_body != null ? comment.plain_body
        : comment.body != null ? comment.body
          : comment.html_body != null ? comment.html_body : '';
    }
    return normaliseText(String(raw));
  }

  function normaliseText(raw) {
    if (LOOKS_LIKE_HTML.test(raw)) {
      return htmlToText(raw);
    }
    return raw.replace(/\r\n?/g, '\n').replace(/\u00a0/g, ' ');
  }

  /* Only comments explicitly marked public are ruled out: the footer is the reliable marker. */
  function isPublicComment(comment) {
    if (comment == null || typeof comment !== 'object') {
      return false;
    }
    return comment.isPublic === true || comment['public'] === true;
  }

  function isBlank(line) {
    return /^[ \t]*$/.test(line);
  }

  function parseHeader(line) {
    var out = { priority: null, category: null, sentiment: null, confidence: null };
    var body = line.replace(HEADER_RE, '');
    var m = /priority[ \t:]+P?([1-4])\b/i.exec(body);
    if (m) {
      out.priority = 'P' + m[1];
    }
    m = /category[ \t:]+([a-z0-9][a-z0-9_-]*)/i.exec(body);
    if (m) {
      out.category = m[1].toLowerCase();
    }
    m = /sentiment[ \t:]+([a-z][a-z_-]*)/i.exec(body);
    if (m) {
      out.sentiment = m[1].toLowerCase();
    }
    m = /confidence[ \t:]+([0-9]*[.,]?[0-9]+)/i.exec(body);
    if (m) {
      var value = parseFloat(m[1].replace(',', '.'));
      if (isFinite(value)) {
        out.confidence = value;
      }
    }
    return out;
  }

  /* Parse one note; null when the text has no footer line of ours. */
  function parseNote(text) {
    var lines = String(text == null ? '' : text).replace(/\r\n?/g, '\n').split('\n');
    var footerIndex = -1;
    for (var i = lines.length - 1; i >= 0; i--) {
      if (FOOTER_RE.test(lines[i])) {
        footerIndex = i;
        break;
      }
    }
    if (footerIndex < 0) {
      return null;
    }
    var footer = lines[footerIndex].trim();
    var headerIndex = -1;
    for (var h = 0; h < footerIndex; h++) {
      if (HEADER_RE.test(lines[h])) {
        headerIndex = h;
        break;
      }
    }
    var note = {
      priority: null, category: null, sentiment: null, confidence: null,
      draft: '', triageId: null, ticketId: null, sequence: null, footer: footer
    };
    var start = 0;
    if (headerIndex >= 0) {
      var header = parseHeader(lines[headerIndex]);
      note.priority = header.priority;
      note.category = header.category;
      note.sentiment = header.sentiment;
      note.confidence = header.confidence;
      start = headerIndex + 1;
      // The draft starts after the first blank line that follows the header.
      var blank = -1;
      for (var b = start; b < footerIndex; b++) {
        if (isBlank(lines[b])) {
          blank = b;
          break;
        }
      }
      start = blank >= 0 ? blank + 1 : start;
    }
    var draftLines = lines.slice(start, footerIndex);
    while (draftLines.length && isBlank(draftLines[0])) {
      draftLines.shift();
    }
    while (draftLines.length && isBlank(draftLines[draftLines.length - 1])) {
      draftLines.pop();
    }
    note.draft = draftLines.join('\n').replace(/[ \t]+$/gm, '');
    var id = TRIAGE_ID_RE.exec(footer);
    if (id) {
      note.triageId = id[1];
      note.ticketId = parseInt(id[2], 10);
      note.sequence = parseInt(id[3], 10);
    }
    return note;
  }

  function toTime(value) {
    if (value == null || value === '') {
      return null;
    }
    var t = value instanceof Date ? value.getTime() : Date.parse(value);
    return isFinite(t) ? t : null;
  }

  function toNumber(value) {
    var n = typeof value === 'number' ? value : parseInt(value, 10);
    return isFinite(n) ? n : null;
  }

  /* Positive when a is later than b. Triage sequence first (zbt-<ticket>-<n>), then creation
   * time, then comment id (ids grow over time); array position only as a last resort. */
  function compareNotes(a, b) {
    var keys = [
      [a.note.sequence, b.note.sequence],
      [a.time, b.time],
      [a.id, b.id]
    ];
    for (var k = 0; k < keys.length; k++) {
      var x = keys[k][0];
      var y = keys[k][1];
      if (x != null && y != null && x !== y) {
        return x > y ? 1 : -1;
      }
    }
    return a.index - b.index;
  }

  /* The latest internal note of ours among the ticket's comments, or null. */
  function findLatestNote(comments) {
    var list = Array.isArray(comments) ? comments : [];
    var best = null;
    for (var i = 0; i < list.length; i++) {
      var comment = list[i];
      if (isPublicComment(comment)) {
        continue;
      }
      var note = parseNote(commentText(comment));
      if (!note) {
        continue;
      }
      var candidate = {
        note: note,
        comment: comment,
        index: i,
        id: comment && typeof comment === 'object' ? toNumber(comment.id) : null,
        time: comment && typeof comment === 'object'
          ? toTime(comment.created_at != null ? comment.created_at : comment.createdAt) : null
      };
      if (best === null || compareNotes(candidate, best) > 0) {
        best = candidate;
      }
    }
    return best && { note: best.note, comment: best.comment };
  }

  function normalisePrefix(prefix) {
    var p = prefix == null ? '' : String(prefix).trim().toLowerCase();
    return p === '' ? DEFAULT_PREFIX : p;
  }

  /* What our tags say about the ticket. */
  function parseTags(tags, prefix) {
    var p = normalisePrefix(prefix);
    var out = {
      prefix: p, triaged: false, failed: false, confidenceLow: false,
      draftUsed: false, draftRejected: false,
      priorities: [], categories: [], sentiments: [], languages: []
    };
    var list = Array.isArray(tags) ? tags : [];
    for (var i = 0; i < list.length; i++) {
      var tag = String(list[i]).toLowerCase();
      if (tag.indexOf(p) !== 0) {
        continue;
      }
      var rest = tag.slice(p.length);
      var m;
      if (rest === 'triaged') {
        out.triaged = true;
      } else if (rest === 'failed') {
        out.failed = true;
      } else if (rest === 'confidence_low') {
        out.confidenceLow = true;
      } else if (rest === 'draft_used') {
        out.draftUsed = true;
      } else if (rest === 'draft_rejected') {
        out.draftRejected = true;
      } else if ((m = /^priority_p([1-4])$/.exec(rest))) {
        out.priorities.push('P' + m[1]);
      } else if ((m = /^category_(.+)$/.exec(rest))) {
        out.categories.push(m[1]);
      } else if ((m = /^sentiment_(.+)$/.exec(rest))) {
        out.sentiments.push(m[1]);
      } else if ((m = /^lang_(.+)$/.exec(rest))) {
        out.languages.push(m[1]);
      }
    }
    out.priorities.sort();
    return out;
  }

  /* Everything the sidebar shows, from the ticket's tags, comments and the tag prefix. */
  function buildModel(tags, comments, prefix) {
    var t = parseTags(tags, prefix);
    var latest = findLatestNote(comments);
    var note = latest ? latest.note : null;
    var model = {
      prefix: t.prefix,
      triaged: t.triaged || note !== null,
      failed: t.failed,
      hasNote: note !== null,
      priority: (note && note.priority) || t.priorities[0] || null,
      category: (note && note.category) || t.categories[0] || null,
      sentiment: (note && note.sentiment) || t.sentiments[0] || null,
      confidence: note ? note.confidence : null,
      confidenceLow: t.confidenceLow,
      language: t.languages[0] || null,
      draft: note ? note.draft : '',
      triageId: note ? note.triageId : null,
      feedback: t.draftUsed ? 'used' : (t.draftRejected ? 'rejected' : null),
      rated: { used: t.draftUsed, rejected: t.draftRejected },
      tags: {
        used: t.prefix + 'draft_used',
        rejected: t.prefix + 'draft_rejected'
      }
    };
    return model;
  }

  return {
    DEFAULT_PREFIX: DEFAULT_PREFIX,
    htmlToText: htmlToText,
    commentText: commentText,
    isPublicComment: isPublicComment,
    parseNote: parseNote,
    findLatestNote: findLatestNote,
    normalisePrefix: normalisePrefix,
    parseTags: parseTags,
    buildModel: buildModel
  };
}));
