/*
 * Pure logic of the AI Triage sidebar: no DOM, no ZAF. Works in the browser (window.ZBTriage)
 * and under Node (module.exports), so it is unit-tested without a browser.
 *
 * What the zendesk-batch-triage service writes (DESIGN.md section 5, integration/zdtriage/prompt.py):
 *   tags   <prefix>priority_p1..p4, <prefix>category_<c>, <prefix>sentiment_<s>, <prefix>lang_<xx>,
 *          <prefix>confidence_low, <prefix>triaged, <prefix>failed; this app adds
 *          <prefix>draft_used / <prefix>draft_rejected. Tags are only ever added, so a ticket
 *          triaged twice carries the values of both triages.
 *   note   an internal comment (public: false) written by the service's own Zendesk user:
 *            AI triage — priority P2 · category billing · sentiment negative · confidence 0.82
 *            <blank line>
 *            <draft, possibly several paragraphs>
 *            <blank line>
 *            — Draft by zendesk-batch-triage (triage-id zbt-<ticket_id>-<n>). Review before sending.
 *
 * Trust: anyone can paste that footer into a comment, so a note only counts when it is an
 * internal comment (ZAF's comment.isPublic === false; a missing flag is not "internal"), its author
 * is the configured service user (ZAF comment.author.id / author.email) and the footer is its last
 * line and names this ticket. ZAF hands comments over as HTML in comment.value
 * (developer.zendesk.com, Apps Support API, ticket sidebar: Comment object).
 *
 * Latest triage: the note's n in zbt-<ticket>-<n> counts the triages of a ticket, so the trusted
 * note with the largest n is the latest. Tags carry no order: Zendesk returns a tag list in an
 * order of its own, neither sorted nor as added (tests/fixtures/real/zendesk/tags-set-post.json:
 * ["tag2","tag3"] comes back ["tag3","tag2"]), and ZAF's ticket.tags is that plain list. So
 * when only tags are left and one kind has several values, the latest cannot be told: the value
 * is shown as unknown, with the candidates, instead of guessing (and never "the most urgent").
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
  var DEFAULT_LOCALE = 'en';
  var FOOTER_RE = /^[ \t]*[\u2014\u2013-]{1,2}[ \t]*Draft by zendesk-batch-triage\b/;
  var HEADER_RE = /^[ \t]*AI triage[ \t]*[\u2014\u2013:-]+/i;
  var TRIAGE_ID_RE = /\(triage-id[ \t:]*(zbt-(\d+)-(\d+))\)/i;
  // Zendesk renders comment bodies as paragraphs and line breaks; only such markup means HTML.
  var LOOKS_LIKE_HTML = /<(p|div|br)\b[^>]*>/i;
  var KINDS = ['priority', 'category', 'sentiment', 'language'];
  // The block the service may put between the draft and the footer (NOTE_FORMAT.md).
  var ARTICLES_RE = /^[ \t]*Help Center articles:[ \t]*$/;
  // "- " may be gone when Zendesk rendered the lines as a list (<li>, which htmlToText drops).
  var ARTICLE_RE = /^[ \t]*(?:- )?(.+?)[ \t]+<([^<>\s]+)>[ \t]*$/;
  var MACRO_RE = /^[ \t]*Suggested macro:[ \t]*(.+?)[ \t]*$/;

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

  function normaliseText(raw) {
    if (LOOKS_LIKE_HTML.test(raw)) {
      return htmlToText(raw);
    }
    return raw.replace(/\r\n?/g, '\n').replace(/\u00a0/g, ' ');
  }

  /* Plain text of a ZAF comment object (value is HTML) or of a bare string. */
  function commentText(comment) {
    if (comment == null) {
      return '';
    }
    if (typeof comment === 'string') {
      return normaliseText(comment);
    }
    return normaliseText(String(comment.value == null ? '' : comment.value));
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
      if (isFinite(value) && value >= 0 && value <= 1) {
        out.confidence = value;
      }
    }
    return out;
  }

  /* The cited articles and suggested macro at the end of a note's body (NOTE_FORMAT.md), and the
   * draft without them. Only a complete block right before the footer counts; anything else stays
   * draft text. The URLs are not trusted here: see articleHref. */
  function splitExtras(lines) {
    var end = lines.length;
    while (end > 0 && isBlank(lines[end - 1])) {
      end--;
    }
    var macro = null;
    var m = end > 0 ? MACRO_RE.exec(lines[end - 1]) : null;
    if (m) {
      macro = m[1];
      end--;
    }
    // Blank lines may sit inside the block: Zendesk's paragraphs and lists become blank lines.
    var articles = [];
    var first = end;
    while (first > 0) {
      if (isBlank(lines[first - 1])) {
        first--;
      } else if ((m = ARTICLE_RE.exec(lines[first - 1]))) {
        articles.unshift({ title: m[1], url: m[2] });
        first--;
      } else {
        break;
      }
    }
    if (articles.length && first > 0 && ARTICLES_RE.test(lines[first - 1])) {
      end = first - 1;
    } else {
      articles = [];
    }
    if (!articles.length && macro === null) {
      return { draft: lines, articles: [], macro: null };
    }
    return { draft: lines.slice(0, end), articles: articles, macro: macro };
  }

  /* Parse one note's text; null unless its last non-blank line is our footer. */
  function parseNote(text) {
    var lines = String(text == null ? '' : text).replace(/\r\n?/g, '\n').split('\n');
    var footerIndex = lines.length - 1;
    while (footerIndex >= 0 && isBlank(lines[footerIndex])) {
      footerIndex--;
    }
    if (footerIndex < 0 || !FOOTER_RE.test(lines[footerIndex])) {
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
      draft: '', triageId: null, ticketId: null, sequence: null, footer: footer,
      articles: [], macro: null
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
      for (var b = start; b < footerIndex; b++) {
        if (isBlank(lines[b])) {
          start = b + 1;
          break;
        }
      }
    }
    var draftLines = lines.slice(start, footerIndex);
    while (draftLines.length && isBlank(draftLines[0])) {
      draftLines.shift();
    }
    var extras = splitExtras(draftLines);
    note.articles = extras.articles;
    note.macro = extras.macro;
    draftLines = extras.draft;
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

  /* The service user setting: a numeric Zendesk user id or an e-mail address; null when unusable. */
  function parseServiceUser(value) {
    var text = value == null ? '' : String(value).trim();
    if (/^[0-9]+$/.test(text)) {
      return { id: text.replace(/^0+(?=\d)/, ''), email: null };
    }
    if (/^[^@\s]+@[^@\s]+$/.test(text)) {
      return { id: null, email: text.toLowerCase() };
    }
    return null;
  }

  function isServiceAuthor(comment, serviceUser) {
    var author = comment && comment.author;
    if (!serviceUser || !author || typeof author !== 'object') {
      return false;
    }
    if (serviceUser.id !== null) {
      // Compared as text: Zendesk user ids are large integers.
      return author.id != null && String(author.id) === serviceUser.id;
    }
    return typeof author.email === 'string' && author.email.trim().toLowerCase() === serviceUser.email;
  }

  function toNumber(value) {
    var n = typeof value === 'number' ? value : parseInt(value, 10);
    return isFinite(n) ? n : null;
  }

  /* Why a comment that carries our footer is not trusted, or null when it is. */
  function distrust(comment, note, ticketId, serviceUser) {
    if (comment.isPublic !== false) {
      return 'not_internal';
    }
    if (!isServiceAuthor(comment, serviceUser)) {
      return 'wrong_author';
    }
    if (note.ticketId === null || note.ticketId !== toNumber(ticketId)) {
      return 'wrong_ticket';
    }
    return null;
  }

  /* Whether comment text carries our footer anywhere (used to count ignored look-alikes). */
  function mentionsFooter(text) {
    var lines = String(text).split('\n');
    for (var i = 0; i < lines.length; i++) {
      if (FOOTER_RE.test(lines[i])) {
        return true;
      }
    }
    return false;
  }

  /* The latest trusted note among the ticket's comments, and the look-alikes that were ignored.
   * options: {ticketId, serviceUser (raw setting)}. */
  function findLatestNote(comments, options) {
    var list = Array.isArray(comments) ? comments : [];
    var opts = options || {};
    var serviceUser = parseServiceUser(opts.serviceUser);
    var best = null;
    var ignored = [];
    for (var i = 0; i < list.length; i++) {
      var comment = list[i];
      if (comment == null || typeof comment !== 'object') {
        continue;
      }
      var text = commentText(comment);
      var note = parseNote(text);
      if (!note) {
        if (mentionsFooter(text)) {
          ignored.push({ id: comment.id, reason: 'footer_not_last' });
        }
        continue;
      }
      var reason = distrust(comment, note, opts.ticketId, serviceUser);
      if (reason) {
        ignored.push({ id: comment.id, reason: reason });
        continue;
      }
      var candidate = { note: note, comment: comment, index: i, id: toNumber(comment.id) };
      if (best === null || isLater(candidate, best)) {
        best = candidate;
      }
    }
    return { note: best && best.note, comment: best && best.comment, ignored: ignored };
  }

  /* Triage number first; comment ids grow over time; list position last. */
  function isLater(a, b) {
    if (a.note.sequence !== b.note.sequence) {
      return a.note.sequence > b.note.sequence;
    }
    if (a.id !== null && b.id !== null && a.id !== b.id) {
      return a.id > b.id;
    }
    return a.index > b.index;
  }

  function normalisePrefix(prefix) {
    var p = prefix == null ? '' : String(prefix).trim().toLowerCase();
    return p === '' ? DEFAULT_PREFIX : p;
  }

  function pushOnce(list, value) {
    if (list.indexOf(value) < 0) {
      list.push(value);
    }
  }

  /* What our tags say about the ticket; value lists keep Zendesk's (meaningless) order. */
  function parseTags(tags, prefix) {
    var p = normalisePrefix(prefix);
    var out = {
      prefix: p, triaged: false, failed: false, confidenceLow: false,
      draftUsed: false, draftRejected: false,
      priority: [], category: [], sentiment: [], language: []
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
        pushOnce(out.priority, 'P' + m[1]);
      } else if ((m = /^category_(.+)$/.exec(rest))) {
        pushOnce(out.category, m[1]);
      } else if ((m = /^sentiment_(.+)$/.exec(rest))) {
        pushOnce(out.sentiment, m[1]);
      } else if ((m = /^lang_([a-z]{2,3})$/.exec(rest))) {
        pushOnce(out.language, m[1]);
      }
    }
    return out;
  }

  /* Everything the sidebar shows. options: {prefix, ticketId, serviceUser}. */
  function buildModel(tags, comments, options) {
    var opts = options || {};
    var t = parseTags(tags, opts.prefix);
    var found = findLatestNote(comments, opts);
    var note = found.note;
    var values = {};
    var conflicts = {};
    for (var k = 0; k < KINDS.length; k++) {
      var kind = KINDS[k];
      var fromNote = note ? note[kind] : null;
      if (fromNote) {
        values[kind] = fromNote;
      } else if (t[kind].length === 1) {
        values[kind] = t[kind][0];
      } else {
        values[kind] = null;
        if (t[kind].length > 1) {
          conflicts[kind] = t[kind].slice().sort();
        }
      }
    }
    var triaged = t.triaged || note !== null;
    return {
      prefix: t.prefix,
      state: triaged ? 'triaged' : (t.failed ? 'failed' : 'untriaged'),
      triaged: triaged,
      failed: t.failed,
      hasNote: note !== null,
      serviceUserSet: parseServiceUser(opts.serviceUser) !== null,
      priority: values.priority,
      category: values.category,
      sentiment: values.sentiment,
      language: values.language,
      conflicts: conflicts,
      confidence: note ? note.confidence : null,
      confidenceLow: t.confidenceLow,
      draft: note ? note.draft : '',
      triageId: note ? note.triageId : null,
      articles: note ? note.articles : [],
      macro: note ? note.macro : null,
      ignored: found.ignored,
      feedback: t.draftUsed ? 'used' : (t.draftRejected ? 'rejected' : null),
      rated: { used: t.draftUsed, rejected: t.draftRejected },
      tags: { used: t.prefix + 'draft_used', rejected: t.prefix + 'draft_rejected' }
    };
  }

  /* Plain text as HTML for ticket.editor.insert, which takes HTML ("Inserts a string at the
   * cursor", example 'My <b>printer</b> is on fire': developer.zendesk.com, Apps Support API,
   * ticket editor). Every character that could start markup is escaped; line breaks become <br>. */
  function draftToHtml(text) {
    return String(text == null ? '' : text)
      .replace(/\r\n?/g, '\n')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&#39;')
      .replace(/\n/g, '<br>');
  }

  /* The href for a cited article, or null when the URL must be shown as text: only https:// on the
   * account's own <subdomain>.zendesk.com or the configured Help Center host (NOTE_FORMAT.md), so a
   * look-alike block written into a draft cannot link anywhere else. allowed: {subdomain, hosts}. */
  function articleHref(url, allowed) {
    var opts = allowed || {};
    var m = /^https:\/\/([a-z0-9.-]+)(?::443)?(\/[^\s]*)?$/i.exec(String(url == null ? '' : url).trim());
    if (!m) {
      return null;  // another scheme, credentials (user@host), a port, or no host at all
    }
    var host = m[1].toLowerCase().replace(/\.$/, '');
    var ok = [];
    var sub = String(opts.subdomain || '').trim().toLowerCase();
    if (/^[a-z0-9][a-z0-9-]*$/.test(sub)) {
      ok.push(sub + '.zendesk.com');
    }
    var hosts = opts.hosts || [];
    for (var i = 0; i < hosts.length; i++) {
      var h = String(hosts[i] || '').trim().toLowerCase().replace(/^https:\/\//, '').replace(/\/.*$/, '');
      if (h) {
        ok.push(h);
      }
    }
    return ok.indexOf(host) >= 0 ? 'https://' + host + (m[2] || '/') : null;
  }

  function tagList(value) {
    if (Array.isArray(value)) {
      return value.map(function (x) { return String(x).toLowerCase(); });
    }
    return typeof value === 'string' ? value.toLowerCase().split(/\s+/) : [];
  }

  /* When the failed tag was last added, from GET /api/v2/tickets/{id}/audits.json pages: the
   * created_at of the latest audit with a Change event on "tags" whose value has <prefix>failed
   * and whose previous_value has not (the Change event shape of the ticket audit events reference;
   * tags as a list). A tag copied in by a follow-up's Create event does not count. null if none. */
  function failedSince(audits, prefix) {
    var tag = normalisePrefix(prefix) + 'failed';
    var best = null;
    var list = Array.isArray(audits) ? audits : [];
    for (var i = 0; i < list.length; i++) {
      var audit = list[i] || {};
      var when = toTime(audit.created_at);
      var events = Array.isArray(audit.events) ? audit.events : [];
      for (var j = 0; j < events.length; j++) {
        var e = events[j] || {};
        if (e.type === 'Change' && e.field_name === 'tags' && when !== null &&
            tagList(e.value).indexOf(tag) >= 0 && tagList(e.previous_value).indexOf(tag) < 0 &&
            (best === null || when > best)) {
          best = when;
        }
      }
    }
    return best === null ? null : new Date(best).toISOString();
  }

  /* --- languages ------------------------------------------------------------------------- */

  /* The dictionary key for a ZAF locale such as "de", "de-CH" or "pt-BR": exact, then the
   * language alone, then English (the retries of zendesk/app_scaffolds src/lib/i18n.js). */
  function resolveLocale(locale, available) {
    var have = available || {};
    var wanted = String(locale || '').trim().toLowerCase().replace(/_/g, '-');
    var tries = [wanted, wanted.split('-')[0], DEFAULT_LOCALE];
    for (var i = 0; i < tries.length; i++) {
      if (tries[i] && Object.prototype.hasOwnProperty.call(have, tries[i])) {
        return tries[i];
      }
    }
    return DEFAULT_LOCALE;
  }

  function lookup(dict, key) {
    var node = dict;
    var parts = key.split('.');
    for (var i = 0; i < parts.length; i++) {
      if (node == null || typeof node !== 'object') {
        return undefined;
      }
      node = node[parts[i]];
    }
    return typeof node === 'string' ? node : undefined;
  }

  /* The one translation helper: t('a.b', {n: 3}) from the agent's dictionary, English when a
   * key is missing there, the key itself when it is missing everywhere. */
  function makeTranslator(dictionaries, locale) {
    var dicts = dictionaries || {};
    var chosen = resolveLocale(locale, dicts);
    function t(key, params) {
      var template = lookup(dicts[chosen], key);
      if (template === undefined) {
        template = lookup(dicts[DEFAULT_LOCALE], key);
      }
      if (template === undefined) {
        return key;
      }
      var values = params || {};
      return template.replace(/\{\{\s*([a-z_]+)\s*\}\}/gi, function (whole, name) {
        return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole;
      });
    }
    t.locale = chosen;
    return t;
  }

  /* --- service health (GET <status_url>) ---------------------------------------------------- */

  function toTime(value) {
    if (typeof value !== 'string' || value === '') {
      return null;
    }
    var ms = Date.parse(value);
    return isFinite(ms) ? ms : null;
  }

  /* What the health JSON says: {kind: 'ok'|'never'|'unhealthy'|'unreachable', ...}. The age of the
   * last write-back is measured against the body's own checked_at, so the agent's clock does not
   * matter; nowMs is the fallback when checked_at is missing. */
  function healthSummary(status, body, nowMs) {
    if (!body || typeof body !== 'object' || typeof body.healthy !== 'boolean') {
      return { kind: 'unreachable' };
    }
    if (status === 503 || body.healthy === false) {
      var reason = typeof body.reason === 'string' && body.reason.trim() ? body.reason.trim() : '';
      return { kind: 'unhealthy', reason: reason };
    }
    if (status !== 200) {
      return { kind: 'unreachable' };
    }
    var last = toTime(body.last_writeback_success);
    if (last === null) {
      return { kind: 'never' };
    }
    var now = toTime(body.checked_at);
    if (now === null) {
      now = nowMs;
    }
    return { kind: 'ok', ageSeconds: Math.max(0, Math.round((now - last) / 1000)) };
  }

  /* An age as a translation key and its number: seconds under a minute read "just now". */
  function ageParts(seconds) {
    if (seconds < 60) {
      return { key: 'just_now', n: 0 };
    }
    if (seconds < 3600) {
      return { key: 'minutes_ago', n: Math.floor(seconds / 60) };
    }
    if (seconds < 86400) {
      return { key: 'hours_ago', n: Math.floor(seconds / 3600) };
    }
    return { key: 'days_ago', n: Math.floor(seconds / 86400) };
  }

  return {
    DEFAULT_PREFIX: DEFAULT_PREFIX,
    htmlToText: htmlToText,
    commentText: commentText,
    parseNote: parseNote,
    parseServiceUser: parseServiceUser,
    findLatestNote: findLatestNote,
    normalisePrefix: normalisePrefix,
    parseTags: parseTags,
    buildModel: buildModel,
    draftToHtml: draftToHtml,
    articleHref: articleHref,
    failedSince: failedSince,
    resolveLocale: resolveLocale,
    makeTranslator: makeTranslator,
    healthSummary: healthSummary,
    ageParts: ageParts
  };
}));
