// The workspace's notices as a dismissible banner. Loaded by the launcher's own
// pages (which render the banner first, in #dcs-notices) and injected into IDE
// documents (where it adds a fixed banner on top). Plain JS, no library, DOM calls
// only (never markup from strings: VS Code enforces Trusted Types), styles through the CSSOM
// (allowed by any style-src). Fetches <root>/_dcs/notices, where <root> is derived
// from this script's own URL, so it works behind any path prefix.
(() => {
  const self = document.currentScript;
  const here = new URL('.', self ? self.src : location.href); // …/_dcs/
  const endpoint = new URL('notices', here);
  const root = new URL('..', here);
  const KEY = 'dcs-dismissed-notices';
  const COLORS = {
    info: ['#e8f0fe', '#174ea6'],
    warning: ['#fff4e5', '#8a4b00'],
    error: ['#fdecea', '#a50e0e'],
  };

  const key = (n) => `${n.id}\n${n.text}`;
  function dismissed() {
    try { return JSON.parse(sessionStorage.getItem(KEY) || '[]'); } catch (e) { return []; }
  }
  function dismiss(n) {
    const list = dismissed();
    list.push(key(n));
    try { sessionStorage.setItem(KEY, JSON.stringify(list.slice(-50))); } catch (e) { /* private mode */ }
  }

  function container() {
    let box = document.getElementById('dcs-notices');
    if (!box) {
      box = document.createElement('div');
      box.id = 'dcs-notices';
      box.dataset.overlay = '1';
      Object.assign(box.style, {
        position: 'fixed', top: '0', left: '0', right: '0', zIndex: '2147483647',
        font: '13px/1.4 system-ui, sans-serif',
      });
      document.body.appendChild(box);
    }
    return box;
  }

  function button(label, onclick) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    Object.assign(b.style, { marginLeft: '.75em', font: 'inherit', cursor: 'pointer' });
    b.addEventListener('click', onclick);
    return b;
  }

  function render(notices) {
    const shown = notices.filter((n) => !dismissed().includes(key(n)));
    const box = document.getElementById('dcs-notices');
    if (!shown.length && !box) return;
    const target = box || container();
    const rows = shown.map((n) => {
      const [bg, fg] = COLORS[n.level] || COLORS.info;
      const row = document.createElement('div');
      row.className = `dcs-notice dcs-${n.level}`;
      row.dataset.id = n.id;
      row.setAttribute('role', n.level === 'info' ? 'status' : 'alert');
      Object.assign(row.style, {
        background: bg, color: fg, borderBottom: `1px solid ${fg}`,
        padding: '.4em .75em', display: 'flex', alignItems: 'center', gap: '.25em',
      });
      const text = document.createElement('span');
      text.className = 'dcs-notice-text';
      text.textContent = n.text;
      text.style.flex = '1';
      row.appendChild(text);
      for (const a of n.actions || []) {
        row.appendChild(button(a.label, async () => {
          // The page itself again (e.g. so the IDE loads new extensions), without
          // this notice for the rest of the session.
          if (a.reload) { dismiss(n); location.reload(); return; }
          // A page to look at (a log): a new tab, never a background request.
          if (a.open) { window.open(new URL(a.href, root), '_blank', 'noopener'); return; }
          try { await fetch(new URL(a.href, root), { method: a.method || 'POST', credentials: 'same-origin' }); } catch (e) { /* shown on the next refresh */ }
          refresh();
        }));
      }
      const close = button('Dismiss', () => { dismiss(n); row.remove(); });
      close.className = 'dcs-notice-dismiss';
      close.setAttribute('aria-label', 'Dismiss this notice');
      row.appendChild(close);
      return row;
    });
    target.replaceChildren(...rows);
  }

  async function refresh() {
    try {
      const r = await fetch(endpoint, {
        headers: { Accept: 'application/json', 'X-DCS-Background': '1' },
        cache: 'no-store',
        credentials: 'same-origin',
      });
      if (r.ok) render((await r.json()).notices || []);
    } catch (e) { /* the workspace is stopping or restarting: keep what is shown */ }
  }

  // Fetched when the page loads and whenever the user comes back to it, as background
  // traffic (`X-DCS-Background: 1`: never counts as use, never wakes a stopped
  // workspace); the user's input itself is reported by the beacons of idle.js.
  refresh();
  document.addEventListener('visibilitychange', () => { if (!document.hidden) refresh(); });
  window.addEventListener('focus', refresh);
})();
