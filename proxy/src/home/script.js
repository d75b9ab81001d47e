// The home page's list: the signed-in person's workspaces from GET /api/instances,
// each with its state and Open, Stop (running or starting ones: POST
// /api/instances/<id>/stop, the warning's Stop now) and Delete (DELETE
// /api/instances/<id>, after a confirmation). Members of an admin group (GET /api/me)
// may tick Everyone's: the list is then everyone's (?all=true), with an Owner column,
// and others' workspaces have no Open link. The list is read again after each
// action, whenever the tab comes back into view, and every STARTING_MS while one of
// them is starting (so "starting" turns into "running" or "failed" by itself). DOM
// calls only; every text is set as text.
//
// When the sign-in expires while the page is open (the API's 401 says `"sign_in":
// true`; behind an ingress that does the sign-in, the request is redirected to its
// sign-in page instead: these requests follow no redirect, and a redirect is asked
// about once more, so a network blip never reads as signed out), the page says so
// with Sign in again (a navigation here: it gets the sign-in, which comes back) and
// reads the list again only when asked (an action, the tab coming back into view).
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
  /** How the page asks the API: JSON, and a redirect (an ingress's sign-in) is not
   *  followed to another site but seen (`opaqueredirect`). */
  const ASK = { credentials: 'same-origin', cache: 'no-store', redirect: 'manual' };
  const READ = { ...ASK, headers: { Accept: 'application/json' } };

  // Whether the sign-in expired (`signedOut`), as answer `r` says.
  let signedOut = false;
  async function expired(r) {
    if (r.type === 'opaqueredirect') {
      const twice = await fetch('/api/me', READ).catch(() => null);
      return !!twice && twice.type === 'opaqueredirect';
    }
    if (r.status !== 401) return false;
    const body = await r.clone().json().catch(() => null);
    return !!body && body.sign_in === true;
  }
  function showSignedOut() {
    signedOut = true;
    clearTimeout(again);
    const link = document.createElement('a');
    link.id = 'sign-in-again';
    link.href = '/';
    link.textContent = 'Sign in again';
    failed.replaceChildren('Your sign-in expired. ', link);
    failed.hidden = false;
  }
  /** An error saying that `what` failed, for the failed answer `r`, after showing
   *  that the sign-in expired if it did. */
  async function failure(r, what) {
    if (await expired(r)) showSignedOut();
    const e = new Error(`${what}: ${await reason(r)}`);
    e.said = true;
    return e;
  }

  // What failed last, shown until the next action or a list that reads again after
  // failing to.
  let listFailed = false;
  function fail(text) {
    if (signedOut) return; // that says it
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
      const r = await fetch(all ? '/api/instances?all=true' : '/api/instances', READ);
      if (!r.ok) throw await failure(r, 'Your workspaces could not be listed');
      list = (await r.json()).instances || [];
    } catch (e) {
      if (read !== reads) return;
      listFailed = true;
      fail(e.said ? e.message : `Your workspaces could not be listed: ${e.message}`);
      return;
    }
    if (read !== reads) return;
    if (listFailed || signedOut) failed.hidden = true;
    listFailed = false;
    signedOut = false;
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
          ...ASK,
          method: 'POST',
        });
        if (!r.ok) throw await failure(r, `${name(w)} could not be stopped`);
      }));
    }
    actions.appendChild(button('Delete', 'delete', async () => {
      const sure = window.confirm(
        `Delete ${name(w)}? It is stopped and forgotten; its files are kept.` +
          (w.kind === 'repo' ? ' Opening the repository again starts it afresh.' : ' Its link stops working.'),
      );
      if (!sure) return;
      const r = await fetch(`/api/instances/${encodeURIComponent(w.instance_id)}`, {
        ...ASK,
        method: 'DELETE',
      });
      if (!r.ok) throw await failure(r, `${name(w)} could not be deleted`);
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
      const r = await fetch('/api/me', READ);
      if (r.ok) me = await r.json();
      else if (await expired(r)) {
        showSignedOut();
        return;
      }
    } catch (e) { /* the list says what failed */ }
    document.getElementById('everyone-box').hidden = !(me && me.admin === true);
    load();
  })();
})();
