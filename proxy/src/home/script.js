// The home page's list: the signed-in person's workspaces from GET /api/instances,
// each with its state and Open, Stop (running or starting ones: POST
// /api/instances/<id>/stop, the warning's Stop now) and Delete (DELETE
// /api/instances/<id>, after a confirmation). Members of an admin group (GET /api/me)
// may tick Everyone's: the list is then everyone's (?all=true), with an Owner column,
// and others' workspaces have no Open link. The list is read again after each
// action, whenever the tab comes back into view, and every STARTING_MS while one of
// them is starting (so "starting" turns into "running" or "failed" by itself). DOM
// calls only; every text is set as text.
(() => {
  const rows = document.getElementById('rows');
  const table = document.getElementById('workspaces');
  const empty = document.getElementById('empty');
  const failed = document.getElementById('failed');
  const everyone = document.getElementById('everyone');
  const ownerHead = document.getElementById('owner-head');
  const STARTING_MS = 2_000;
  let again = null;
  // Who is signed in (`GET /api/me`): an admin may list everyone's workspaces.
  let me = null;

  // What failed last, shown until the next action or a list that reads again after
  // failing to.
  let listFailed = false;
  function fail(text) {
    failed.textContent = text;
    failed.hidden = false;
  }

  /** The readable reason of a failed answer (the API's and the pages' JSON say it). */
  async function reason(r) {
    const body = await r.json().catch(() => null);
    return (body && (body.message || body.error)) || `${r.status} ${r.statusText}`;
  }

  // Each read's number: only the latest one's answer is shown (Everyone's ticked
  // while a read of one's own was under way, or the other way round).
  let reads = 0;
  async function load() {
    const read = ++reads;
    const all = everyone.checked;
    let list;
    try {
      const r = await fetch(all ? '/api/instances?all=true' : '/api/instances', {
        headers: { Accept: 'application/json' },
        credentials: 'same-origin',
        cache: 'no-store',
      });
      if (!r.ok) throw new Error(await reason(r));
      list = (await r.json()).instances || [];
    } catch (e) {
      if (read !== reads) return;
      listFailed = true;
      fail(`Your workspaces could not be listed: ${e.message}`);
      return;
    }
    if (read !== reads) return;
    if (listFailed) failed.hidden = true;
    listFailed = false;
    render(list, all);
  }

  function button(label, cls, onclick) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = cls;
    b.textContent = label;
    b.addEventListener('click', async () => {
      b.disabled = true;
      failed.hidden = true;
      try {
        await onclick();
      } catch (e) {
        fail(e.message);
      }
      await load();
    });
    return b;
  }

  function render(list, all) {
    const owner = (w) => (all ? String(w.user_id) : '');
    list.sort((a, b) => owner(a).localeCompare(owner(b)) || name(a).localeCompare(name(b)));
    ownerHead.hidden = !all;
    rows.replaceChildren(...list.map((w) => row(w, all)));
    table.hidden = list.length === 0;
    empty.hidden = list.length !== 0;
    clearTimeout(again);
    if (list.some((w) => w.status === 'starting')) again = setTimeout(load, STARTING_MS);
  }

  function name(w) {
    return w.kind === 'repo' ? w.repo : `${w.instance_id}${w.repo ? ` (${w.repo})` : ''}`;
  }

  /** The row of `w`; with its owner when everyone's are listed (`all`). */
  function row(w, all) {
    const tr = document.createElement('tr');
    tr.dataset.id = w.instance_id;
    const what = document.createElement('td');
    const open = document.createElement('a');
    // The API's own path of the workspace; anything else is not a place to go. Not
    // for someone else's: `/github/o/r/` would open the caller's own workspace of the
    // repository, an instance's link needs its token.
    const mine = !me || w.user_id === me.user_id;
    if (mine && typeof w.url === 'string' && w.url.startsWith('/') && !w.url.startsWith('//')) open.href = w.url;
    open.className = 'open';
    open.textContent = name(w);
    what.appendChild(open);
    const state = document.createElement('td');
    state.className = `state state-${w.status}`;
    state.textContent = w.status;
    if (w.reason) state.title = w.reason;
    const actions = document.createElement('td');
    actions.className = 'actions';
    if (w.status === 'running' || w.status === 'starting') {
      actions.appendChild(button('Stop', 'stop', async () => {
        const r = await fetch(`/api/instances/${encodeURIComponent(w.instance_id)}/stop`, {
          method: 'POST',
          credentials: 'same-origin',
          cache: 'no-store',
        });
        if (!r.ok) throw new Error(`${name(w)} could not be stopped: ${await reason(r)}`);
      }));
    }
    actions.appendChild(button('Delete', 'delete', async () => {
      const sure = window.confirm(
        `Delete ${name(w)}? It is stopped and forgotten; its files are kept.` +
          (w.kind === 'repo' ? ' Opening the repository again starts it afresh.' : ' Its link stops working.'),
      );
      if (!sure) return;
      const r = await fetch(`/api/instances/${encodeURIComponent(w.instance_id)}`, {
        method: 'DELETE',
        credentials: 'same-origin',
        cache: 'no-store',
      });
      if (!r.ok) throw new Error(`${name(w)} could not be deleted: ${await reason(r)}`);
    }));
    tr.append(what);
    if (all) {
      const who = document.createElement('td');
      who.className = 'owner';
      who.textContent = String(w.user_id);
      tr.append(who);
    }
    tr.append(state, actions);
    return tr;
  }

  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') load();
  });
  everyone.addEventListener('change', load);
  (async () => {
    try {
      const r = await fetch('/api/me', { headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' });
      if (r.ok) me = await r.json();
    } catch (e) { /* the list says what failed */ }
    document.getElementById('everyone-box').hidden = !(me && me.admin === true);
    load();
  })();
})();
