/*
 * AI Triage ticket sidebar. Reads the ticket's tags and comments through the ZAF client, shows the
 * triage of the latest internal note as badges plus its draft, and lets the agent insert the draft
 * or rate it. All ticket text goes into the page through textContent only.
 */
(function () {
  'use strict';

  var T = window.ZBTriage;
  var client = window.ZAFClient.init();
  var app = document.getElementById('app');
  var current = { prefix: T.DEFAULT_PREFIX, model: null, notice: null };

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

  function resize() {
    var height = Math.max(60, Math.ceil(document.documentElement.scrollHeight));
    return client.invoke('resize', { width: '100%', height: height + 'px' });
  }

  function badge(kind, text, extraClass) {
    var cls = 'badge badge-' + kind + (extraClass ? ' ' + extraClass : '');
    return el('span', { 'class': cls, 'data-badge': kind }, text);
  }

  function labelFor(value) {
    return String(value).replace(/[_-]+/g, ' ');
  }

  function renderBadges(model) {
    var box = el('div', { 'class': 'badges', 'data-testid': 'badges' });
    if (model.priority) {
      box.appendChild(badge('priority', model.priority, 'prio-' + model.priority.toLowerCase()));
    }
    if (model.category) {
      box.appendChild(badge('category', labelFor(model.category)));
    }
    if (model.sentiment) {
      box.appendChild(badge('sentiment', model.sentiment, 'sentiment-' + model.sentiment));
    }
    if (model.confidence != null || model.confidenceLow) {
      var text = model.confidence != null
        ? 'confidence ' + model.confidence.toFixed(2) : 'confidence';
      if (model.confidenceLow) {
        text = 'low ' + text;
      }
      box.appendChild(badge('confidence', text, model.confidenceLow ? 'low' : ''));
    }
    if (model.language) {
      box.appendChild(badge('language', model.language));
    }
    return box;
  }

  var SVG_NS = 'http://www.w3.org/2000/svg';

  /* A thumb drawn as SVG, so it shows without an emoji font; down is up turned over. */
  function thumbIcon(down) {
    var svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('width', '18');
    svg.setAttribute('height', '18');
    svg.setAttribute('aria-hidden', 'true');
    var g = document.createElementNS(SVG_NS, 'g');
    if (down) {
      g.setAttribute('transform', 'rotate(180 12 12)');
    }
    var cuff = document.createElementNS(SVG_NS, 'rect');
    cuff.setAttribute('x', '2');
    cuff.setAttribute('y', '10');
    cuff.setAttribute('width', '4');
    cuff.setAttribute('height', '11');
    cuff.setAttribute('rx', '1');
    var hand = document.createElementNS(SVG_NS, 'path');
    hand.setAttribute('d', 'M8 21h9.2a2 2 0 0 0 2-1.6l1.3-6.6a2 2 0 0 0-2-2.4H14l.7-4.2' +
      'a2.2 2.2 0 0 0-2.2-2.6L8 10z');
    g.appendChild(cuff);
    g.appendChild(hand);
    svg.appendChild(g);
    return svg;
  }

  function renderFeedback(model) {
    var box = el('div', { 'class': 'feedback' });
    box.appendChild(el('span', { 'class': 'feedback-question' }, 'Was this draft useful?'));
    var up = el('button', {
      type: 'button', id: 'thumb-up', 'class': 'thumb', title: 'Draft used',
      'aria-label': 'Draft used', 'aria-pressed': String(model.feedback === 'used')
    });
    var down = el('button', {
      type: 'button', id: 'thumb-down', 'class': 'thumb', title: 'Draft rejected',
      'aria-label': 'Draft rejected', 'aria-pressed': String(model.feedback === 'rejected')
    });
    up.appendChild(thumbIcon(false));
    down.appendChild(thumbIcon(true));
    up.addEventListener('click', function () { rate('used'); });
    down.addEventListener('click', function () { rate('rejected'); });
    box.appendChild(up);
    box.appendChild(down);
    return box;
  }

  function render() {
    var model = current.model;
    clear(app);
    if (!model) {
      return;
    }
    document.body.setAttribute('data-state', model.triaged ? 'triaged' : 'untriaged');
    if (!model.triaged) {
      app.appendChild(el('p', { id: 'status', 'class': 'status not-triaged' }, 'Not triaged yet'));
      app.appendChild(el('p', { 'class': 'hint' },
        'This ticket has no AI triage note. The triage service adds one on its next run.'));
      if (model.failed) {
        app.appendChild(el('p', { id: 'failed', 'class': 'hint failed' },
          'The last triage attempt failed (tag ' + model.prefix + 'failed).'));
      }
      return;
    }
    app.appendChild(renderBadges(model));
    if (!model.hasNote) {
      app.appendChild(el('p', { id: 'status', 'class': 'status' },
        'Triaged, but no draft note was found on this ticket.'));
      return;
    }
    app.appendChild(el('h2', { 'class': 'section-title' }, 'Draft reply'));
    app.appendChild(el('div', { id: 'draft', 'class': 'draft' }, model.draft));
    var insert = el('button', { type: 'button', id: 'insert-draft', 'class': 'primary' },
      'Insert draft into reply');
    insert.addEventListener('click', insertDraft);
    app.appendChild(insert);
    app.appendChild(renderFeedback(model));
    if (current.notice) {
      app.appendChild(el('p', { id: 'notice', 'class': 'notice', role: 'status' }, current.notice));
    }
    if (model.triageId) {
      app.appendChild(el('p', { 'class': 'meta' }, 'triage-id ' + model.triageId));
    }
  }

  function renderError(message) {
    clear(app);
    document.body.setAttribute('data-state', 'error');
    app.appendChild(el('p', { id: 'status', 'class': 'status error' },
      'Could not read this ticket: ' + message));
    resize();
  }

  function show(notice) {
    current.notice = notice;
    render();
    resize();
  }

  function insertDraft() {
    var model = current.model;
    if (!model || !model.draft) {
      return;
    }
    client.invoke('ticket.editor.insert', model.draft).then(function () {
      show('Draft inserted into the reply. Review it before sending.');
    }, function () {
      show('Could not insert the draft into the reply.');
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
      show(choice === 'used'
        ? 'Marked as used. The tag is saved with your next ticket update.'
        : 'Marked as not used. The tag is saved with your next ticket update.');
    }, function () {
      show('Could not tag the ticket.');
    });
  }

  function load() {
    return Promise.all([
      client.metadata(),
      client.get(['ticket.tags', 'ticket.comments'])
    ]).then(function (results) {
      var settings = (results[0] && results[0].settings) || {};
      var data = results[1] || {};
      current.prefix = T.normalisePrefix(settings.tag_prefix);
      current.model = T.buildModel(data['ticket.tags'] || [], data['ticket.comments'] || [],
        current.prefix);
      render();
      return resize();
    }).catch(function (err) {
      renderError((err && err.message) || String(err));
    });
  }

  client.on('ticket.tags.changed', load);
  client.on('ticket.updated', load);
  load();
}());
