/*
 * Stand-in for the ZAF SDK (zaf_sdk.min.js) in the sidebar tests. The test serves this file in
 * place of the SDK URL, after a line that sets window.__ZAF_FIXTURE = {ticketId, tags, comments,
 * settings, locale, colorScheme, requests, subdomain}. It answers client.get / client.metadata from the
 * fixture and records every call in window.__zafCalls; ticket.tags.add / ticket.tags.remove change
 * the tags and fire ticket.tags.changed, as Zendesk does.
 *
 * Shapes follow the real SDK (zendesk/zendesk_app_framework_sdk lib/client.ts): get() of a list
 * answers {path: value, errors: {path: {...}}} and does not reject for an unknown path; request()
 * resolves with the parsed body on 2xx and rejects with a jqXHR-like {status, statusText,
 * responseText} otherwise (status 0 when the host could not be reached). Events fire
 * asynchronously. ticket.editor.insert parses what it gets as HTML into an inert document (no
 * script runs there), window.__editorDoc, which stands for the reply editor.
 */
(function () {
  'use strict';

  var fixture = window.__ZAF_FIXTURE || {};
  var calls = [];
  var handlers = {};
  var tags = (fixture.tags || []).slice();
  window.__zafCalls = calls;

  function copy(value) {
    return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
  }

  function read(path) {
    switch (path) {
      case 'ticket.tags':
        return tags.slice();
      case 'ticket.comments':
        return copy(fixture.comments || []);
      case 'ticket.id':
        return fixture.ticketId || 1;
      case 'currentUser.locale':
        return fixture.locale || 'en-US';
      case 'colorScheme':
        return fixture.colorScheme || 'light';
      default:
        return undefined;
    }
  }

  function fire(name, payload) {
    (handlers[name] || []).slice().forEach(function (fn) {
      setTimeout(function () { fn(payload); }, 0);
    });
  }

  function asList(value) {
    return Array.isArray(value) ? value : [value];
  }

  var editorDoc = document.implementation.createHTMLDocument('editor');
  window.__editorDoc = editorDoc;
  window.__zafFire = fire;

  function answer(url) {
    var canned = (fixture.requests || {})[url];
    if (!canned) {
      return { status: 0, body: null };
    }
    return canned;
  }

  var client = {
    get: function (paths) {
      var list = asList(paths);
      calls.push({ kind: 'get', paths: list.slice() });
      if (fixture.failGet) {
        return Promise.reject(new Error(fixture.failGet));
      }
      var out = { errors: {} };
      list.forEach(function (path) {
        var value = read(path);
        if (value === undefined) {
          out.errors[path] = { message: 'unknown path ' + path };
        } else {
          out[path] = value;
        }
      });
      return Promise.resolve(out);
    },
    metadata: function () {
      calls.push({ kind: 'metadata' });
      return Promise.resolve({
        appId: 1, installationId: 2, name: 'AI Triage', version: 'test',
        settings: copy(fixture.settings || {})
      });
    },
    context: function () {
      calls.push({ kind: 'context' });
      // The real answer also names the account: {account: {subdomain}, ...} (ZAF client.context()).
      return Promise.resolve({
        location: 'ticket_sidebar', product: 'support', ticketId: fixture.ticketId || 1,
        account: { subdomain: fixture.subdomain || 'example' }
      });
    },
    invoke: function (name) {
      var args = Array.prototype.slice.call(arguments, 1);
      calls.push({ kind: 'invoke', name: name, args: copy(args) });
      if (name === 'ticket.editor.insert') {
        editorDoc.body.insertAdjacentHTML('beforeend', String(args[0]));
      } else if (name === 'ticket.tags.add') {
        asList(args[0]).forEach(function (tag) {
          if (tags.indexOf(tag) < 0) {
            tags.push(tag);
          }
        });
        fire('ticket.tags.changed', tags.slice());
      } else if (name === 'ticket.tags.remove') {
        asList(args[0]).forEach(function (tag) {
          var at = tags.indexOf(tag);
          if (at >= 0) {
            tags.splice(at, 1);
          }
        });
        fire('ticket.tags.changed', tags.slice());
      }
      return Promise.resolve({ errors: {} });
    },
    request: function (options) {
      var opts = typeof options === 'string' ? { url: options } : options;
      calls.push({ kind: 'request', options: copy(opts) });
      var canned = answer(opts.url);
      return new Promise(function (resolve, reject) {
        setTimeout(function () {
          var text = canned.body == null ? '' : JSON.stringify(canned.body);
          if (canned.status >= 200 && canned.status < 300 && canned.raw != null) {
            // jQuery with dataType json: a 2xx body that is not JSON fails as a parse error.
            reject({ status: canned.status, statusText: 'parsererror', responseText: canned.raw });
          } else if (canned.status >= 200 && canned.status < 300) {
            resolve(copy(canned.body));
          } else {
            reject({
              status: canned.status,
              statusText: 'error',
              responseText: canned.raw != null ? canned.raw : text
            });
          }
        }, 0);
      });
    },
    on: function (name, fn) {
      calls.push({ kind: 'on', name: name });
      (handlers[name] = handlers[name] || []).push(fn);
    },
    off: function (name, fn) {
      handlers[name] = (handlers[name] || []).filter(function (h) { return h !== fn; });
    },
    has: function (name) {
      return (handlers[name] || []).length > 0;
    },
    trigger: function (name, payload) {
      fire(name, payload);
    }
  };

  window.ZAFClient = {
    init: function () {
      calls.push({ kind: 'init' });
      return client;
    }
  };
}());
