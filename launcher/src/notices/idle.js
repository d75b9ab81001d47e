// The idle clock in the page: beacons of human input, the warning before an idle
// stop, and the way back after one. Served after notice.js in the same script (see
// notices.rs), so it runs in every page the notices reach: the IDE's documents
// (code-server, openvscode-server, `code serve-web`) and the `none` IDE's page.
//
// - Beacons: keydown, pointerdown, wheel and window focus POST <root>/_dcs/activity
//   {"kind": key|pointer|scroll|focus}, at most once per THROTTLE_MS per kind (the
//   last input of a burst is sent when the period ends, with `ago_ms`: how long
//   before the sending it happened, so the clock runs from the input itself). Only input sends them:
//   no timer of this script ever counts as use.
// - Poll: GET <root>/_dcs/idle with `X-DCS-Background: 1` (never counts as use,
//   never wakes a stopped workspace), every `poll_s` of its answer at most (the
//   proxy's --tab-poll; POLL_MS until the first answer), more often when the
//   workspace's timeout is short, and when a warning or stop is due. Whenever one of
//   the page's WebSockets closes (VS Code's connection to its server: the workspace
//   stopped, its IDE died or a network dropped), it asks soon, then again after 2,
//   4, 8… s (HURRY_POLLS times), and no more often than MIN_POLL_MS: what closed
//   the connection shows in the page within a second or so, not a period later.
//   A poll not answered within POLL_DEADLINE_MS is given up and asked again.
//   Once `warn_at` passed, the warning shows
//   "This workspace stops in N min: nobody has used it for M min." with Keep working
//   (a keep-working beacon) and Stop now (POST <root>/_dcs/stop). A stop asked for
//   elsewhere (`stop_requested_at`: through another proxy replica, which every
//   replica carries out at its next reaper pass) reads "being stopped: someone asked
//   for it" instead; Keep working undoes it there too.
// - Stopped: when the poll (or a beacon) is answered `{"stopped": true}`, the page
//   is covered by "Stopped after N min without use. Your files are saved." with
//   Resume: Resume, or any click, reloads the page, and that navigation wakes the
//   workspace. The overlay hides whatever the IDE shows underneath ("Cannot
//   reconnect"), and polling ends. A workspace deleted under the page
//   (`"reason": "deleted"`) reads "This workspace was deleted…" with Open again:
//   the page's own requests never bring it back, the reload (a person) does.
// - Signed out: when the poll or a beacon is answered by the edge's "not signed in"
//   (`401` with `"sign_in": true`: the session expired or ended elsewhere), the page
//   is covered by "Your sign-in expired…" with Sign in again, and polling ends (each
//   poll would only be refused, and ask the sign-in service again). Sign in again,
//   or any click, reloads the page: that navigation gets the sign-in, which comes
//   back to this page. Behind an ingress that does the sign-in itself, an expired
//   session's request is redirected to the sign-in page instead: these requests do
//   not follow redirects (`redirect: 'manual'`; nothing they ask is redirected
//   otherwise), and one redirected is asked once more, so it is a redirect twice
//   over, not a network blip (that fails the fetch), that reads as signed out.
// - IDE restarted: an IDE document's script tag says which run of the IDE served
//   it (`data-ide-run`); when the poll answers another `ide_run`, the IDE (or the
//   launcher, or its pod) was started again, and this page's connection to it is
//   gone for good (VS Code does not always say so: its "Cannot reconnect" was seen
//   never to show, and every save then failed "Canceled"). A bar says so, with
//   Reload.
//
// DOM calls only (no markup from strings: VS Code enforces Trusted Types); styles
// through the CSSOM.
(() => {
  if (window.__dcsIdle) return; // injected twice (a launcher page inside the IDE)
  window.__dcsIdle = true;
  const self = document.currentScript;
  const here = new URL('.', self ? self.src : location.href); // …/_dcs/
  const IDLE = new URL('idle', here);
  const ACTIVITY = new URL('activity', here);
  const STOP = new URL('stop', here);
  const THROTTLE_MS = 30_000;
  const POLL_MS = 15_000;
  const MIN_POLL_MS = 1_000;
  const HURRY_POLLS = 6;
  // A poll not answered by then is given up and asked again: a request can hang for
  // good (a laptop lid closed and opened, a proxy replica gone without a reset), and
  // one hanging poll would end the warning, the stop and Resume for this page.
  const POLL_DEADLINE_MS = 20_000;
  const BACKGROUND = { 'X-DCS-Background': '1' };
  // The run of the IDE that served this page (IDE documents only).
  const PAGE_RUN = (self && self.dataset.ideRun) || null;

  let stopped = false; // the page is covered (stopped, or signed out): no more requests
  let report = null; // the last /_dcs/idle answer
  let skew = 0; // server clock − ours, seconds
  let warned = false;

  const now = () => Date.now() / 1000 + skew;

  // ---- beacons ----------------------------------------------------------------
  const lastSent = {};
  const lastInput = {};
  const pending = {};
  async function send(kind) {
    lastSent[kind] = Date.now();
    // A burst's last input is sent when its period ends: say how long ago it was.
    const ago = Math.max(0, Date.now() - (lastInput[kind] || Date.now()));
    try {
      const r = await fetch(ACTIVITY, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(ago > 0 ? { kind, ago_ms: ago } : { kind }),
        credentials: 'same-origin',
        cache: 'no-store',
        redirect: 'manual',
      });
      await look(r);
    } catch (e) { /* the workspace is stopping or restarting */ }
    if (warned && kind !== 'keep-working') poll();
  }
  function input(kind) {
    if (stopped) return;
    lastInput[kind] = Date.now();
    if (pending[kind]) return;
    // While the warning shows, input answers it at once.
    const period = warned ? 2_000 : THROTTLE_MS;
    const wait = (lastSent[kind] || 0) + period - Date.now();
    if (wait <= 0) {
      send(kind);
      return;
    }
    pending[kind] = setTimeout(() => { pending[kind] = null; if (!stopped) send(kind); }, wait);
  }
  const opts = { capture: true, passive: true };
  window.addEventListener('keydown', () => input('key'), opts);
  window.addEventListener('pointerdown', () => input('pointer'), opts);
  window.addEventListener('wheel', () => input('scroll'), opts);
  window.addEventListener('focus', () => input('focus'));

  // ---- poll -------------------------------------------------------------------
  /** Shows the Resume overlay if `r` says the workspace is stopped, the sign-in
   *  overlay if it says the sign-in expired. */
  async function look(r) {
    if (r.type === 'opaqueredirect') {
      // Redirected: an ingress's sign-in, or a blip of something in between? Ask again.
      const again = await askIdle().catch(() => null);
      if (again && again.type === 'opaqueredirect') showSignedOut();
      return null;
    }
    if (r.status !== 503 && r.status !== 401) return null;
    const type = r.headers.get('content-type') || '';
    if (!type.includes('json')) return null;
    const body = await r.json().catch(() => null);
    if (r.status === 401 && body && body.sign_in === true) showSignedOut();
    if (r.status === 503 && body && body.stopped === true) showStopped(body);
    return body;
  }

  /** GET <root>/_dcs/idle, in the background, not following a redirect (see look). */
  function askIdle() {
    // Aborting after the answer was read changes nothing, so the deadline covers
    // the body too.
    const giveUp = typeof AbortController === 'function' ? new AbortController() : null;
    if (giveUp) setTimeout(() => giveUp.abort(), POLL_DEADLINE_MS);
    return fetch(IDLE, {
      headers: { Accept: 'application/json', ...BACKGROUND },
      credentials: 'same-origin',
      cache: 'no-store',
      redirect: 'manual',
      signal: giveUp ? giveUp.signal : undefined,
    });
  }

  let timer = null;
  let lastPoll = 0;
  let hurry = 0; // polls since one of the page's WebSockets closed (0: not hurrying)
  async function poll() {
    if (stopped) return;
    clearTimeout(timer);
    lastPoll = Date.now();
    try {
      const r = await askIdle();
      if (r.ok) {
        report = await r.json();
        if (typeof report.now === 'number') skew = report.now - Date.now() / 1000;
        render();
        if (PAGE_RUN && typeof report.ide_run === 'string' && report.ide_run !== PAGE_RUN) {
          showRestarted();
        }
      } else {
        await look(r);
      }
    } catch (e) { /* the workspace is stopping or restarting: ask again */ }
    if (!stopped) timer = setTimeout(poll, interval());
  }
  function interval() {
    const period = report && report.poll_s >= 1 ? report.poll_s * 1000 : POLL_MS;
    let ms = period;
    if (hurry > 0) {
      ms = Math.min(ms, 1000 * 2 ** hurry);
      hurry = hurry < HURRY_POLLS ? hurry + 1 : 0;
    }
    if (!report) return Math.max(MIN_POLL_MS, ms);
    const t = report.idle_timeout_s || 1800;
    const w = report.warning_s || 0;
    ms = Math.min(ms, (t * 1000) / 10, w > 0 ? (w * 1000) / 5 : period);
    // Close to the warning or the stop: look again when it is due.
    for (const at of [report.warn_at, report.stop_at]) {
      if (typeof at === 'number' && at > now()) ms = Math.min(ms, (at - now()) * 1000 + 250);
    }
    return Math.max(MIN_POLL_MS, ms);
  }

  /** One of the page's WebSockets closed: ask soon (at most once per MIN_POLL_MS),
   *  then a few more times at growing intervals. */
  function closed() {
    if (stopped) return;
    hurry = 1;
    clearTimeout(timer);
    timer = setTimeout(poll, Math.max(250, lastPoll + MIN_POLL_MS - Date.now()));
  }
  // Every WebSocket the page opens (this script runs before the IDE's own) tells
  // `closed`; a proxy of the constructor keeps its statics, prototype and
  // `instanceof` as they are.
  if (typeof window.WebSocket === 'function' && typeof Proxy === 'function') {
    window.WebSocket = new Proxy(window.WebSocket, {
      construct(target, args, newTarget) {
        const socket = Reflect.construct(target, args, newTarget);
        socket.addEventListener('close', closed);
        return socket;
      },
    });
  }

  // ---- text -------------------------------------------------------------------
  function span(secs) {
    const s = Math.max(0, Math.round(secs));
    if (s < 60) return `${s} s`;
    return `${Math.round(s / 60)} min`;
  }

  // ---- the warning ------------------------------------------------------------
  function button(label, cls, onclick) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = cls;
    b.textContent = label;
    Object.assign(b.style, { marginLeft: '.75em', font: 'inherit', cursor: 'pointer' });
    b.addEventListener('click', onclick);
    return b;
  }

  /** A bar across the top of the page (`id`), its text in its first span. */
  function alertBar(id) {
    const bar = document.createElement('div');
    bar.id = id;
    bar.className = 'dcs-notice dcs-error';
    bar.setAttribute('role', 'alert');
    Object.assign(bar.style, {
      position: 'fixed', top: '0', left: '0', right: '0', zIndex: '2147483647',
      font: '13px/1.4 system-ui, sans-serif', background: '#fdecea', color: '#a50e0e',
      borderBottom: '1px solid #a50e0e', padding: '.4em .75em', display: 'flex',
      alignItems: 'center', gap: '.25em',
    });
    const text = document.createElement('span');
    text.style.flex = '1';
    bar.appendChild(text);
    return bar;
  }

  let tick = null;
  function render() {
    const r = report;
    const due = r && typeof r.warn_at === 'number' && typeof r.stop_at === 'number' && now() >= r.warn_at;
    if (!due) {
      hideWarning();
      return;
    }
    warned = true;
    let box = document.getElementById('dcs-idle-warning');
    if (!box) {
      box = alertBar('dcs-idle-warning');
      box.querySelector('span').className = 'dcs-idle-text';
      box.appendChild(button('Keep working', 'dcs-keep-working', async () => {
        hideWarning();
        await send('keep-working');
        poll();
      }));
      box.appendChild(button('Stop now', 'dcs-stop-now', async () => {
        try {
          const res = await fetch(STOP, {
            method: 'POST', credentials: 'same-origin', cache: 'no-store', redirect: 'manual',
          });
          await look(res);
        } catch (e) { /* stopping */ }
        poll();
      }));
      document.body.appendChild(box);
    }
    const last = r.last_input && typeof r.last_input.at === 'number'
      ? r.last_input.at
      : r.stop_at - r.idle_timeout_s;
    // A stop asked for through another way in (the home page, the API, another
    // replica's tab) is carried out at the next look of the proxies: not idleness.
    box.querySelector('.dcs-idle-text').textContent = typeof r.stop_requested_at === 'number'
      ? 'This workspace is being stopped: someone asked for it. Keep working keeps it running.'
      : `This workspace stops in ${span(r.stop_at - now())}: nobody has used it for ${span(now() - last)}.`;
    if (!tick) tick = setInterval(render, 1000); // the countdown (no requests)
  }
  function hideWarning() {
    warned = false;
    clearInterval(tick);
    tick = null;
    const box = document.getElementById('dcs-idle-warning');
    if (box) box.remove();
  }

  // ---- the IDE restarted under this page ---------------------------------------
  function showRestarted() {
    if (document.getElementById('dcs-ide-restarted')) return;
    const bar = alertBar('dcs-ide-restarted');
    bar.querySelector('span').textContent = 'The IDE stopped unexpectedly and was started ' +
      'again: this page lost its connection to it. Reload to reconnect (copy any edit it ' +
      'could not save first).';
    bar.appendChild(button('Reload', 'dcs-reload', () => location.reload()));
    document.body.appendChild(bar);
  }

  // ---- stopped or signed out: the way back --------------------------------------
  /** Ends polling and beacons for good: the page is about to be covered. */
  function cover() {
    if (stopped) return false;
    stopped = true;
    clearTimeout(timer);
    for (const k of Object.keys(pending)) clearTimeout(pending[k]);
    hideWarning();
    return true;
  }

  /** Covers the page (`id`) with `words` and a button `label`: it, or any click,
   *  reloads the page, saying `going` meanwhile. */
  function overlay(id, words, label, going) {
    const box = document.createElement('div');
    box.id = id;
    box.setAttribute('role', 'alertdialog');
    box.setAttribute('aria-modal', 'true');
    Object.assign(box.style, {
      position: 'fixed', inset: '0', zIndex: '2147483647', display: 'flex',
      alignItems: 'center', justifyContent: 'center', background: 'rgba(20, 20, 24, .88)',
      font: '15px/1.5 system-ui, sans-serif', color: '#fff', cursor: 'pointer',
    });
    const card = document.createElement('div');
    Object.assign(card.style, {
      background: '#fff', color: '#1f1f1f', padding: '1.5em 2em', borderRadius: '8px',
      maxWidth: '32em', textAlign: 'center', boxShadow: '0 4px 24px rgba(0,0,0,.4)',
    });
    const text = document.createElement('p');
    text.className = `${id}-text`;
    text.style.margin = '0 0 1em';
    text.textContent = words;
    const again = button(label, id === 'dcs-stopped' ? 'dcs-resume' : `${id}-again`, () => {});
    Object.assign(again.style, { marginLeft: '0', padding: '.4em 1.5em', fontSize: '15px' });
    card.append(text, again);
    box.appendChild(card);
    // The button, or any click: reload; the navigation does the rest.
    box.addEventListener('click', (e) => {
      e.stopPropagation();
      text.textContent = going;
      location.reload();
    }, true);
    (document.body || document.documentElement).appendChild(box);
    again.focus();
  }

  function showStopped(info) {
    if (!cover()) return;
    const after = typeof info.stopped_after_s === 'number' ? info.stopped_after_s : null;
    const deleted = info.reason === 'deleted';
    // Resume: the navigation wakes the workspace.
    overlay('dcs-stopped', deleted
      ? 'This workspace was deleted. Your files are kept: Open again starts it afresh on them.'
      : after !== null && info.reason === 'idle'
        ? `Stopped after ${span(after)} without use. Your files are saved.`
        : 'This workspace was stopped. Your files are saved.',
    deleted ? 'Open again' : 'Resume', 'Resuming…');
  }

  /** The edge says this page's sign-in is no longer valid: every request of the
   *  page is refused until the person signs in again, which the reload (a
   *  navigation) starts, coming back here. */
  function showSignedOut() {
    if (!cover()) return;
    overlay('dcs-signed-out', 'Your sign-in expired. Sign in again to keep working here; ' +
      'your files are saved.', 'Sign in again', 'Signing in…');
  }

  if (document.body) poll();
  else document.addEventListener('DOMContentLoaded', poll);
})();
