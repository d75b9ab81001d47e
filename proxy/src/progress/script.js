// The progress page's script (served by dcs-proxy, same origin; no dependencies).
// Polls the start's progress, shows each phase as it comes, and moves on to the
// workspace when it is ready; a failure shows its reason and what to do. When the
// sign-in expires meanwhile (a 401 with `"sign_in": true`, or, behind an ingress
// that does the sign-in, a redirect twice over: the poll follows none), it stops
// and says so, with Sign in again: a reload, whose navigation gets the sign-in and
// comes back to this page. A failed fetch (the proxy restarting, the network) is
// only retried.
(function () {
  'use strict';
  var root = document.documentElement;
  var url = root.getAttribute('data-progress');
  var seenKey = 'dcs-progress-seen:' + url;
  var steps = Array.prototype.slice.call(document.querySelectorAll('#steps li'));
  var order = steps.map(function (li) { return li.getAttribute('data-step'); });
  var delay = 500;

  function remember(phase) {
    try {
      var seen = JSON.parse(sessionStorage.getItem(seenKey) || '[]');
      if (seen[seen.length - 1] !== phase) {
        seen.push(phase);
        sessionStorage.setItem(seenKey, JSON.stringify(seen));
      }
    } catch (e) { /* storage may be off: the page works without it */ }
  }

  function text(id, value) {
    var el = document.getElementById(id);
    if (el) el.textContent = value || '';
  }

  function show(p) {
    root.setAttribute('data-phase', p.phase);
    remember(p.phase);
    var at = order.indexOf(p.phase);
    steps.forEach(function (li, i) {
      li.className = p.phase === 'ready' || (at >= 0 && i < at) ? 'done' : (i === at ? 'now' : '');
    });
    var line = p.phase.replace(/_/g, ' ');
    if (typeof p.percent === 'number') line += ' ' + p.percent + '%';
    var figures = [];
    if (p.objects && p.objects.total) figures.push(p.objects.done + '/' + p.objects.total + ' objects');
    if (p.bytes) figures.push(p.bytes < 1048576 ? Math.round(p.bytes / 1024) + ' KiB' : (p.bytes / 1048576).toFixed(1) + ' MiB');
    if (figures.length) line += ' (' + figures.join(', ') + ')';
    if (p.message) line += ': ' + p.message;
    if (p.reason && p.phase !== 'failed') line += ': ' + p.reason;
    text('detail', line);
    var bar = document.getElementById('bar');
    if (bar) {
      bar.hidden = typeof p.percent !== 'number';
      if (!bar.hidden) bar.value = p.percent;
    }
    if (p.phase === 'failed') {
      document.getElementById('failure').hidden = false;
      text('reason', p.reason);
      text('hint', p.hint);
    }
  }

  function ask() {
    return fetch(url, {
      headers: { accept: 'application/json' },
      credentials: 'same-origin',
      cache: 'no-store',
      redirect: 'manual'
    });
  }

  // Whether answer `r` says the sign-in expired (a redirect is asked about again).
  function signedOut(r) {
    if (r.type === 'opaqueredirect') {
      return ask().then(function (again) { return again.type === 'opaqueredirect'; }, function () { return false; });
    }
    if (r.status !== 401) return Promise.resolve(false);
    return r.clone().json().then(function (b) { return !!b && b.sign_in === true; }, function () { return false; });
  }

  function showSignedOut() {
    var box = document.getElementById('signed-out');
    if (!box) return;
    box.hidden = false;
    var again = document.getElementById('sign-in-again');
    if (again) {
      again.addEventListener('click', function () { location.reload(); });
      again.focus();
    }
  }

  function poll() {
    ask()
      .then(function (r) {
        if (r.ok) return r.json();
        return signedOut(r).then(function (out) {
          if (out) return null;
          throw new Error('status ' + r.status);
        });
      })
      .then(function (p) {
        if (p === null) {
          showSignedOut();
          return;
        }
        delay = 500;
        show(p);
        if (p.phase === 'ready') {
          // The same address again: now it is the workspace.
          location.reload();
        } else if (p.phase !== 'failed') {
          setTimeout(poll, delay);
        }
      })
      .catch(function () {
        // The proxy restarted or the network hiccupped: keep following, slower.
        delay = Math.min(delay * 2, 5000);
        setTimeout(poll, delay);
      });
  }

  remember(root.getAttribute('data-phase'));
  poll();
})();
