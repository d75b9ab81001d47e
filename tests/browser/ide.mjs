// VS Code (code-server) in Chromium: the workbench loads, the Explorer lists the
// repo's README, an edit is saved, and after the IDE process is killed while the
// person types, the launcher's bar says the IDE restarted under the page, and the
// page works again (reloaded when VS Code or the bar asks for it, leaving behind the
// edit it could not back up, typed again) and saves again; after a second kill the
// page is reloaded at once, during the restart, and works; stopped from elsewhere
// (another tab's Stop now), the page shows Resume and VS Code tries to reconnect.
//
// Input: {url, screenshots, file, text, text2, text3}. Events: explorer, saved,
// ready-for-kill, restart-told {text}, [reload-asked | reload-offered],
// [conflict-overwritten], saved-again, ready-for-kill, saved-after-reload,
// ready-for-stop, resume-shown {text}, reconnected {reconnects, ended}, done | failed.
// Stdin: `killed` once the test has killed the IDE process, `stopped` once it has
// stopped the workspace, `gone` once its launcher is gone.
import { emit, input, run, step, waitFor } from './lib.mjs';
import { editorLines, fileRow as vscodeFileRow } from './vscode.mjs';

/** How long one step may wait (a page load, a selector): a workbench took up to 65 s
 *  to load under `make test-stress` with 4 copies. */
const LONG = 180_000;
/** How long saving may take after the IDE was killed: VS Code reconnects to the
 *  restarted IDE and asks for a reload (or the launcher's bar does), and the
 *  workbench loads again (under `make test-stress` with 4 copies and load ~20:
 *  10–47 s, then 35–85 s; 60–107 s in all; on 2026-12-03 with load ~16, 63–153 s
 *  from the reload to the save, and once over 210 s: a workbench that took 120 s to
 *  load, then an extension host that kept turning unresponsive). Below the Rust
 *  side's step, so that a failure here reports what the page showed. */
const SAVE_WITHIN = 300_000;

const fileRow = (page) => vscodeFileRow(page, input.file);

/** Gives the editor the focus (panels such as chat may grab it while loading). */
async function focusEditor(page) {
  const editor = editorLines(page);
  await editor.waitFor({ timeout: LONG });
  for (let i = 0; ; i++) {
    // A short timeout: a dialog (e.g. "Cannot reconnect") may cover the editor at
    // any moment; the caller's loop handles it and tries again.
    await editor.click({ timeout: 5_000 });
    if ((await page.locator('.editor-instance .monaco-editor.focused').count()) > 0) return;
    if (i > 20) throw new Error('the editor never took the focus');
    await page.waitForTimeout(500);
  }
}

async function editorText(page) {
  const text = await editorLines(page).innerText({ timeout: 1000 }).catch(() => '');
  return text.replace(/\u00a0/g, ' ');
}

/** The file as the launcher's file API reads it from the workspace. */
async function onDisk(page) {
  const url = new URL(`_dcs/files/${input.file}`, input.url).href;
  const res = await page.request.get(url).catch(() => null);
  return res && res.ok() ? await res.text() : '';
}

/** Opens the file from the Explorer and appends `text` on a new line. */
async function append(page, text) {
  step(`type ${JSON.stringify(text)}`);
  await fileRow(page).dblclick();
  await focusEditor(page);
  await page.keyboard.press('Control+End');
  await page.keyboard.press('Enter');
  await page.keyboard.type(text);
}

/** Saves until the file on disk holds `text` (code-server also saves by itself a
 *  second after a change: `files.autoSave` is `afterDelay` on the web). When VS Code
 *  asks to reload the window (its server restarted), or the launcher's bar does (VS
 *  Code does not always ask: its "Cannot reconnect" was seen never to show when it
 *  came while the person typed), reloads and types again if the edit was lost; when
 *  VS Code finds the disk newer than the editor, overwrites. */
async function saveUntilClean(page, text) {
  const deadline = Date.now() + SAVE_WITHIN;
  while (Date.now() < deadline) {
    const reload = page.getByRole('button', { name: /Reload Window/i }).first();
    if (await reload.isVisible().catch(() => false)) {
      emit('reload-asked');
      await reload.click();
      await page.waitForLoadState('load').catch(() => {});
      await page.waitForTimeout(1000);
      continue;
    }
    const ours = page.locator('#dcs-ide-restarted button.dcs-reload');
    if (await ours.isVisible().catch(() => false)) {
      emit('reload-offered');
      await ours.click().catch(() => {});
      await page.waitForLoadState('load').catch(() => {});
      await page.waitForTimeout(1000);
      continue;
    }
    // A save that the killed server wrote but never answered leaves the editor a
    // step behind the disk: VS Code then refuses the next save ("The content of the
    // file is newer") and offers Overwrite. The editor holds everything typed (the
    // test checks that the disk does too), so a person overwrites.
    const overwrite = page
      .locator('.notifications-toasts .notification-list-item')
      .filter({ hasText: 'The content of the file is newer' })
      .getByRole('button', { name: 'Overwrite' })
      .first();
    if (await overwrite.isVisible().catch(() => false)) {
      emit('conflict-overwritten');
      await overwrite.click().catch(() => {});
      await page.waitForTimeout(1000);
      if ((await onDisk(page)).includes(text)) return;
      continue;
    }
    const busy = (await page.locator('.monaco-dialog-box').count()) > 0;
    if (busy || !(await fileRow(page).isVisible().catch(() => false))) {
      step(busy ? 'wait: a dialog is open' : 'wait: no Explorer');
      await page.waitForTimeout(500);
      continue;
    }
    try {
      if (!(await editorText(page)).includes(text)) await append(page, text);
      await focusEditor(page);
      step('save (Ctrl+S)');
      await page.keyboard.press('Control+S');
    } catch (err) {
      step(`interrupted: ${String(err?.message ?? err).split('\n')[0].slice(0, 60)}`);
      // Interrupted (a dialog appeared, the window is reloading): look again.
      await page.waitForTimeout(500);
      continue;
    }
    await page.waitForTimeout(1500);
    if ((await onDisk(page)).includes(text)) return;
  }
  throw new Error(`could not save ${JSON.stringify(text)}`);
}

await run(async (page) => {
  await page.goto(input.url, { timeout: LONG });
  await page.waitForSelector('.monaco-workbench', { timeout: LONG });
  await fileRow(page).waitFor({ timeout: LONG });
  await page.screenshot({ path: `${input.screenshots}/workbench.png` });
  emit('explorer', { rows: await page.getByRole('treeitem').allInnerTexts() });

  await saveUntilClean(page, input.text);
  emit('saved');

  emit('ready-for-kill');
  await waitFor('killed');
  // The person goes on typing as the IDE dies, before VS Code says anything: the
  // edit is unsaved when VS Code asks to reload, so the browser asks "Leave site?"
  // and the page leaves (see `openPage` in lib.mjs); the loop types it again.
  await append(page, input.text2).catch(() => {});
  // The launcher's bar says the IDE restarted under this page (its idle poll sees a
  // run of the IDE other than the one that served the page), whether or not VS
  // Code asks for a reload itself.
  const told = page.locator('#dcs-ide-restarted');
  await told.waitFor({ state: 'visible', timeout: LONG });
  emit('restart-told', { text: await told.innerText() });
  await saveUntilClean(page, input.text2);
  emit('saved-again');
  await page.screenshot({ path: `${input.screenshots}/after-restart.png` });

  // Killed again, and this time the person reloads the page at once, while the IDE
  // is still restarting: the page waits for it and opens the workbench.
  emit('ready-for-kill');
  await waitFor('killed');
  await page.reload({ timeout: LONG });
  await page.waitForSelector('.monaco-workbench', { timeout: LONG });
  await fileRow(page).waitFor({ timeout: LONG });
  await saveUntilClean(page, input.text3);
  emit('saved-after-reload');

  // Stopped from elsewhere: VS Code's connection closes, the page asks at once and
  // covers the workbench with Resume (its periodic polls are minutes apart here).
  // Every WebSocket the page opens once the workspace is gone is one of VS Code's
  // reconnect attempts; counted, and those that ended (refused) too.
  let gone = false;
  let reconnects = 0;
  let ended = 0;
  page.on('websocket', (ws) => {
    if (!gone) return;
    reconnects += 1;
    let over = false;
    const end = () => {
      if (!over) ended += 1;
      over = true;
    };
    ws.on('close', end);
    ws.on('socketerror', end);
  });
  emit('ready-for-stop');
  await waitFor('stopped');
  const cover = page.locator('#dcs-stopped');
  await cover.waitFor({ state: 'visible', timeout: LONG });
  emit('resume-shown', { text: await cover.innerText() });
  await page.screenshot({ path: `${input.screenshots}/stopped.png` });

  // VS Code tries again: at least one attempt, answered, after the launcher is gone.
  await waitFor('gone');
  gone = true;
  step('waiting for a reconnect attempt');
  const deadline = Date.now() + LONG;
  while (ended === 0) {
    if (Date.now() > deadline) throw new Error(`VS Code never tried to reconnect (${reconnects} begun)`);
    await page.waitForTimeout(250);
  }
  emit('reconnected', { reconnects, ended });
});
