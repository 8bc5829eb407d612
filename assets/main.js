/*
 * AI Triage ticket sidebar. Reads the ticket through the ZAF client, shows the latest trusted
 * triage (see triage.js) as Garden tags plus its draft, lets the agent insert the draft or rate it,
 * and, with a status URL set, when the service last wrote back. All ticket text goes into the page
 * through textContent only; every string the agent reads comes from t() (translations/*.json).
 *
 * ZAF facts relied on (developer.zendesk.com, Apps Support API and the app developer guide):
 * - client.get([...]) answers {'<path>': value, errors: {...}}; ticket.id, ticket.tags,
 *   ticket.comments, currentUser.locale (e.g. "de", "pt-BR") and colorScheme ("light"|"dark");
 * - the iframe URL carries ?colorScheme=light|dark, readable before ZAF initialises, and
 *   client.on('colorScheme.changed', scheme => ...) fires when the agent switches ("Dark mode");
 * - ticket.editor.insert takes HTML, so the draft is escaped first (ZBTriage.draftToHtml);
 * - client.request({cors: true}) is sent by the agent's browser rather than Zendesk's proxy
 *   (support.zendesk.com 4408885735706); it resolves with the parsed body and rejects with the
 *   jqXHR-like response (status, responseText) (zendesk_app_framework_sdk lib/client.ts);
 * - client.context() answers {account: {subdomain}, location, ...}; client.invoke('resize',
 *   {height}) sets the iframe's height, so the panel is measured from its content (the document's
 *   scrollHeight never drops below the iframe's current height: a panel sized by it only grows);
 * - a relative client.request('/api/v2/...') goes through Zendesk with the agent's own session; the
 *   failed state reads the ticket's audits that way (GET tickets/{id}/audits.json: {audits,
 *   next_page}, oldest first, 100 a page; fixtures/real/zendesk/ticket-audits-notifications.json).
 */
(function () {
  'use strict';

  var T = window.ZBTriage;
  var DICTS = window.ZBT_I18N || {};
  var HEALTH_TIMEOUT_MS = 5000;
  var AUDIT_PAGES = 10;
  var app = document.getElementById('app');
  var current = {
    t: T.makeTranslator(DICTS, navigator.language),
    scheme: 'light',
    model: null,
    notice: null,
    statusUrl: '',
    health: null,
    healthPending: null,
    subdomain: '',
    helpCenterHost: '',
    failedAt: null
  };

  function normaliseScheme(value) {
    var scheme = value && typeof value === 'object' ? value.colorScheme : value;
    return scheme === 'dark' ? 'dark' : (scheme === 'light' ? 'light' : null);
  }

  function applyScheme(value) {
    var scheme = normaliseScheme(value);
    if (scheme) {
      current.scheme = scheme;
      document.documentElement.setAttribute('data-color-scheme', scheme);
    }
  }

  // Before ZAF initialises, so the first paint is already in the right scheme.
  applyScheme(new URLSearchParams(window.location.search).get('colorScheme'));

  var client = window.ZAFClient.init();

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    var keys = attrs ? Object.keys(attrs) : [];
    for (var i = 0; i < keys.length; i++) {
      node.setAttribute(keys[i], attrs[keys[i]]);
    }
    if (text != null) {
      node.textContent = String(text);
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) {
      node.removeChild(node.firstChild);
    }
  }

  function dark(classes) {
    return current.scheme === 'dark' ? classes + ' ' + classes.split(' ')[0] + '--dark' : classes;
  }

  /* The panel's height from its content (body's box with its margins), not from scrollHeight,
   * which is at least the iframe's height and so never lets the panel shrink. */
  function resize() {
    var body = document.body;
    var style = window.getComputedStyle(body);
    var content = body.getBoundingClientRect().height + parseFloat(style.marginTop || '0') +
      parseFloat(style.marginBottom || '0');
    var height = Math.max(60, Math.ceil(content));
    return client.invoke('resize', { width: '100%', height: height + 'px' });
  }

  /* t(key) when the dictionary has it, otherwise the value as readable text. */
  function termLabel(group, value) {
    var key = group + '.' + value;
    var label = current.t(key);
    return label === key ? String(value).replace(/[_-]+/g, ' ') : label;
  }

  function languageName(code) {
    try {
      var names = new Intl.DisplayNames([current.t.locale], { type: 'language' });
      var name = names.of(code);
      if (name && name.toLowerCase() !== code.toLowerCase()) {
        return name;
      }
    } catch (e) {
      // An old browser or an odd code: the code is still better than nothing.
    }
    return code.toUpperCase();
  }

  function percent(value) {
    try {
      return new Intl.NumberFormat(current.t.locale, { style: 'percent', maximumFractionDigits: 0 })
        .format(value);
    } catch (e) {
      return Math.round(value * 100) + '%';
    }
  }

  var PRIORITY_COLOURS = { P1: 'c-tag--red', P2: 'c-tag--yellow', P3: 'c-tag--blue', P4: 'c-tag--grey' };
  // Sentiment has its own palette (main.css), so "Negative" never reads as priority P1.
  var SENTIMENT_COLOURS = {
    positive: 'sentiment--positive', neutral: 'sentiment--neutral',
    negative: 'sentiment--negative', angry: 'sentiment--angry'
  };

  function badge(kind, text, colour) {
    var cls = dark('c-tag c-tag--pill') + (colour ? ' ' + colour : '');
    var tag = el('span', { 'class': cls, 'data-badge': kind, title: current.t('kind.' + kind) });
    tag.appendChild(el('span', null, text));
    return tag;
  }

  function renderBadges(model) {
    var box = el('div', { 'class': 'badges', 'data-testid': 'badges' });
    if (model.priority) {
      box.appendChild(badge('priority', model.priority, PRIORITY_COLOURS[model.priority]));
    }
    if (model.category) {
      box.appendChild(badge('category', termLabel('category', model.category)));
    }
    if (model.sentiment) {
      box.appendChild(badge('sentiment', termLabel('sentiment', model.sentiment),
        SENTIMENT_COLOURS[model.sentiment] || 'sentiment--neutral'));
    }
    if (model.confidence != null || model.confidenceLow) {
      var text;
      if (model.confidence == null) {
        text = current.t('badge.confidence_low_only');
      } else {
        text = current.t(model.confidenceLow ? 'badge.confidence_low' : 'badge.confidence',
          { percent: percent(model.confidence) });
      }
      box.appendChild(badge('confidence', text, model.confidenceLow ? 'c-tag--yellow' : ''));
    }
    if (model.language) {
      box.appendChild(badge('language', languageName(model.language)));
    }
    return box;
  }

  function callout(kind, id, title, paragraph) {
    var box = el('div', { 'class': 'c-callout c-callout--' + kind, id: id, role: 'status' });
    if (title) {
      box.appendChild(title);
    }
    if (paragraph) {
      box.appendChild(el('p', { 'class': 'c-callout__paragraph' }, paragraph));
    }
    return box;
  }

  function dateTime(iso) {
    var date = new Date(iso);
    try {
      return new Intl.DateTimeFormat(current.t.locale, { dateStyle: 'medium', timeStyle: 'short' }).format(date);
    } catch (e) {
      return date.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
    }
  }

  /* Why and when in plain words, then what the agent can do; no command: agents run none. */
  function renderFailed() {
    var t = current.t;
    var box = callout('error', 'failed', el('strong', { 'class': 'c-callout__title', id: 'status' }, t('failed.title')),
      t('failed.why'));
    if (current.failedAt) {
      box.appendChild(el('p', { 'class': 'c-callout__paragraph', id: 'failed-when' },
        t('failed.when', { when: dateTime(current.failedAt) })));
    }
    box.appendChild(el('p', { 'class': 'c-callout__paragraph', id: 'failed-what' }, t('failed.what')));
    app.appendChild(box);
  }

  function thumb(id, down, pressed, label, onClick) {
    var button = el('button', {
      type: 'button', id: id, 'class': dark('c-btn c-btn--sm') + ' thumb', title: label,
      'aria-label': label, 'aria-pressed': String(pressed)
    });
    var icon = document.getElementById('thumb-icon').content.firstElementChild.cloneNode(true);
    if (down) {
      icon.querySelector('g').setAttribute('transform', 'rotate(180 12 12)');
    }
    button.appendChild(icon);
    button.addEventListener('click', onClick);
    return button;
  }

  function renderFeedback(model) {
    var t = current.t;
    var box = el('div', { 'class': 'feedback' });
    box.appendChild(el('span', { 'class': 'feedback-question' }, t('draft.question')));
    box.appendChild(thumb('thumb-up', false, model.feedback === 'used', t('draft.used'),
      function () { rate('used'); }));
    box.appendChild(thumb('thumb-down', true, model.feedback === 'rejected', t('draft.rejected'),
      function () { rate('rejected'); }));
    return box;
  }

  function renderConflicts(model) {
    var kinds = Object.keys(model.conflicts);
    for (var i = 0; i < kinds.length; i++) {
      var values = model.conflicts[kinds[i]].map(function (v) {
        return kinds[i] === 'priority' ? v : (kinds[i] === 'language' ? languageName(v) : termLabel(kinds[i], v));
      });
      app.appendChild(el('p', { 'class': 'hint conflict', 'data-conflict': kinds[i] },
        current.t('status.conflict', { kind: current.t('kind.' + kinds[i]), values: values.join(', ') })));
    }
  }

  /* Cited articles as links only where articleHref allows it; the rest as plain text. */
  function renderSources(model) {
    var t = current.t;
    if (model.articles.length) {
      app.appendChild(el('h2', { 'class': 'section-title' }, t('sources.articles')));
      var list = el('ul', { id: 'articles', 'class': 'articles' });
      for (var i = 0; i < model.articles.length; i++) {
        var article = model.articles[i];
        var href = T.articleHref(article.url, { subdomain: current.subdomain, hosts: [current.helpCenterHost] });
        var item = el('li');
        if (href) {
          item.appendChild(el('a', { href: href, target: '_blank', rel: 'noopener noreferrer' }, article.title));
        } else {
          item.appendChild(el('span', { 'class': 'unlinked', title: t('sources.not_linked') },
            article.title + ' <' + article.url + '>'));
        }
        list.appendChild(item);
      }
      app.appendChild(list);
    }
    if (model.macro) {
      app.appendChild(el('p', { id: 'macro', 'class': 'macro' }, t('sources.macro', { title: model.macro })));
    }
  }

  function renderDraft(model) {
    var t = current.t;
    app.appendChild(el('h2', { 'class': 'section-title' }, t('draft.title')));
    app.appendChild(el('div', { id: 'draft', 'class': 'draft' }, model.draft));
    renderSources(model);
    var actions = el('div', { 'class': 'actions' });
    var insert = el('button', { type: 'button', id: 'insert-draft', 'class': dark('c-btn c-btn--primary c-btn--full') },
      t('draft.insert'));
    insert.addEventListener('click', insertDraft);
    actions.appendChild(insert);
    app.appendChild(actions);
    app.appendChild(renderFeedback(model));
  }

  function renderHealth() {
    if (!current.statusUrl) {
      return;
    }
    var t = current.t;
    var health = current.health || { kind: 'checking' };
    var text;
    if (health.kind === 'ok') {
      var age = T.ageParts(health.ageSeconds);
      text = t('health.ok', { ago: t('ago.' + age.key, { n: age.n }) });
    } else if (health.kind === 'unhealthy') {
      text = health.reason ? t('health.unhealthy', { reason: health.reason }) : t('health.unhealthy_no_reason');
    } else {
      text = t('health.' + health.kind);
    }
    app.appendChild(el('p', { id: 'health', 'class': 'health', 'data-health': health.kind }, text));
  }

  function render() {
    var model = current.model;
    var t = current.t;
    clear(app);
    if (!model) {
      return;
    }
    document.body.setAttribute('data-state', model.state);
    if (model.state === 'untriaged') {
      app.appendChild(el('p', { id: 'status', 'class': 'status' }, t('status.not_triaged')));
      app.appendChild(el('p', { 'class': 'hint' }, t('status.not_triaged_hint')));
    } else if (model.state === 'failed') {
      renderFailed();
    } else {
      app.appendChild(renderBadges(model));
      if (model.confidenceLow) {
        app.appendChild(callout('warning', 'low-confidence',
          el('strong', { 'class': 'c-callout__title' }, t('low_confidence.title')), t('low_confidence.hint')));
      }
      renderConflicts(model);
      if (model.hasNote) {
        renderDraft(model);
      } else {
        app.appendChild(el('p', { id: 'status', 'class': 'hint no-note' },
          t(model.serviceUserSet ? 'status.no_note' : 'status.no_service_user')));
      }
    }
    if (model.ignored.length) {
      app.appendChild(el('p', { id: 'ignored', 'class': 'hint' }, t('status.ignored', { n: model.ignored.length })));
    }
    if (current.notice) {
      app.appendChild(el('p', { id: 'notice', 'class': 'notice', role: 'status' }, current.notice));
    }
    if (model.triageId) {
      app.appendChild(el('p', { id: 'details', 'class': 'details' }, t('details.triage_id', { id: model.triageId })));
    }
    renderHealth();
  }

  function renderError(message) {
    clear(app);
    document.body.setAttribute('data-state', 'error');
    app.appendChild(el('p', { id: 'status', 'class': 'status error' }, current.t('error', { message: message })));
    resize();
  }

  function refresh() {
    render();
    return resize();
  }

  function show(notice) {
    current.notice = notice;
    refresh();
  }

  function insertDraft() {
    var model = current.model;
    if (!model || !model.draft) {
      return;
    }
    client.invoke('ticket.editor.insert', T.draftToHtml(model.draft)).then(function () {
      show(current.t('draft.inserted'));
    }, function () {
      show(current.t('draft.insert_failed'));
    });
  }

  function rate(choice) {
    var model = current.model;
    if (!model) {
      return;
    }
    var add = choice === 'used' ? model.tags.used : model.tags.rejected;
    var other = choice === 'used' ? model.tags.rejected : model.tags.used;
    var steps = [client.invoke('ticket.tags.add', add)];
    if (model.rated[choice === 'used' ? 'rejected' : 'used']) {
      steps.push(client.invoke('ticket.tags.remove', other));
    }
    model.feedback = choice;
    model.rated = { used: choice === 'used', rejected: choice !== 'used' };
    Promise.all(steps).then(function () {
      show(current.t(choice === 'used' ? 'draft.marked_used' : 'draft.marked_rejected'));
    }, function () {
      show(current.t('draft.tag_failed'));
    });
  }

  function parseJson(text) {
    if (typeof text !== 'string') {
      return text;
    }
    try {
      return JSON.parse(text);
    } catch (e) {
      return null;
    }
  }

  function checkHealth() {
    if (!current.statusUrl || current.healthPending) {
      return current.healthPending;
    }
    current.healthPending = client.request({
      url: current.statusUrl, type: 'GET', cors: true, dataType: 'json', timeout: HEALTH_TIMEOUT_MS
    }).then(function (body) {
      current.health = T.healthSummary(200, parseJson(body), Date.now());
    }, function (response) {
      var status = response && typeof response.status === 'number' ? response.status : 0;
      var body = response && (response.responseJSON || parseJson(response.responseText));
      current.health = T.healthSummary(status, body, Date.now());
    }).then(function () {
      current.healthPending = null;
      return refresh();
    });
    return current.healthPending;
  }

  /* When the failed tag was added, from the ticket's audits. They come oldest first, so when more
   * than AUDIT_PAGES pages are left the latest addition may be among them: then, as when they
   * cannot be read, the failed state shows without a time rather than an older one. */
  function checkFailedAt(ticketId, prefix) {
    var audits = [];
    function page(url, left) {
      return client.request({ url: url, type: 'GET', dataType: 'json' }).then(function (body) {
        var data = parseJson(body) || {};
        audits = audits.concat(Array.isArray(data.audits) ? data.audits : []);
        var next = typeof data.next_page === 'string' ? data.next_page : '';
        if (!next) {
          return true;
        }
        var m = /^https:\/\/[^/]+(\/api\/v2\/tickets\/[^\s]*)$/.exec(next);
        return m && left > 1 ? page(m[1], left - 1) : false;
      });
    }
    return page('/api/v2/tickets/' + encodeURIComponent(ticketId) + '/audits.json', AUDIT_PAGES).then(function (all) {
      current.failedAt = all ? T.failedSince(audits, prefix) : null;
    }, function () {
      current.failedAt = null;
    }).then(refresh);
  }

  function load() {
    return Promise.all([
      client.metadata(),
      client.get(['ticket.id', 'ticket.tags', 'ticket.comments', 'currentUser.locale', 'colorScheme']),
      client.context().then(null, function () { return {}; })
    ]).then(function (results) {
      var settings = (results[0] && results[0].settings) || {};
      var data = results[1] || {};
      var context = results[2] || {};
      current.subdomain = (context.account && context.account.subdomain) || '';
      current.helpCenterHost = typeof settings.help_center_host === 'string' ? settings.help_center_host : '';
      current.t = T.makeTranslator(DICTS, data['currentUser.locale']);
      document.documentElement.setAttribute('lang', current.t.locale);
      applyScheme(data.colorScheme);
      current.statusUrl = typeof settings.status_url === 'string' ? settings.status_url.trim() : '';
      current.model = T.buildModel(data['ticket.tags'] || [], data['ticket.comments'] || [], {
        prefix: settings.tag_prefix,
        ticketId: data['ticket.id'],
        serviceUser: settings.service_user
      });
      var shown = refresh();
      checkHealth();
      if (current.model.state === 'failed') {
        checkFailedAt(data['ticket.id'], settings.tag_prefix);
      }
      return shown;
    }).catch(function (err) {
      renderError((err && err.message) || String(err));
    });
  }

  client.on('colorScheme.changed', function (scheme) {
    applyScheme(scheme);
    refresh();
  });
  client.on('ticket.tags.changed', load);
  client.on('ticket.updated', load);
  load();
}());
