// The home page's list: the signed-in person's workspaces from GET /api/instances,
// each with its state and Open, Stop (running or starting ones: POST
// /api/instances/<id>/stop, the warning's Stop now) and Delete (DELETE
// /api/instances/<id>, after a confirmation). The list is read again after each
// action, whenever the tab comes back into view, and every STARTING_MS while one of
// them is starting (so "starting" turns into "running" or "failed" by itself). DOM
// calls only; every text is set as text.
(() => {
  const rows = document.getElementById('rows');
  const table = document.getElementById('workspaces');
  const empty = document.getElementById('empty');
  const failed = document.getElementById('failed');
  const STARTING_MS = 2_000;
  let again = null;

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

  async function load() {
    let list;
    try {
      const r = await fetch('/api/instances', {
        headers: { Accept: 'application/json' },
        credentials: 'same-origin',
        cache: 'no-store',
      });
      if (!r.ok) throw new Error(await reason(r));
      list = (await r.json()).instances || [];
    } catch (e) {
      listFailed = true;
      fail(`Your workspaces could not be listed: ${e.message}`);
      return;
    }
    if (listFailed) failed.hidden = true;
    listFailed = false;
    render(list);
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

  function render(list) {
    list.sort((a, b) => name(a).localeCompare(name(b)));
    rows.replaceChildren(...list.map(row));
    table.hidden = list.length === 0;
    empty.hidden = list.length !== 0;
    clearTimeout(again);
    if (list.some((w) => w.status === 'starting')) again = setTimeout(load, STARTING_MS);
  }

  function name(w) {
    return w.kind === 'repo' ? w.repo : `${w.instance_id}${w.repo ? ` (${w.repo})` : ''}`;
  }

  function row(w) {
    const tr = document.createElement('tr');
    tr.dataset.id = w.instance_id;
    const what = document.createElement('td');
    const open = document.createElement('a');
    // The API's own path of the workspace; anything else is not a place to go.
    if (typeof w.url === 'string' && w.url.startsWith('/') && !w.url.startsWith('//')) open.href = w.url;
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
    tr.append(what, state, actions);
    return tr;
  }

  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') load();
  });
  load();
})();
