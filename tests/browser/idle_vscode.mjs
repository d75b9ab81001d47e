// The idle clock with VS Code (code-server) in Chromium: typing keeps the workspace,
// the warning shows and Keep working defers the stop, an untouched tab lets it stop,
// the tab then shows the Resume overlay (not "Cannot reconnect"), and Resume lands
// back in VS Code with the unsaved edit restored.
//
// Input: {url, screenshots, file, text, typing_ms}. Events: loaded, edited, typed,
// warning {text}, kept, overlay {text, on_top, cannot_reconnect}, resumed {text},
// done | failed.
// Stdin: `keep` (click Keep working), `resume` (click Resume).
import { emit, input, run, waitFor } from './lib.mjs';
import { editorLines, fileRow as vscodeFileRow } from './vscode.mjs';

const LONG = 180_000;

const fileRow = (page) => vscodeFileRow(page, input.file);

async function editorText(page) {
  const text = await editorLines(page).innerText({ timeout: 1000 }).catch(() => '');
  return text.replace(/\u00a0/g, ' ');
}

/** Gives the editor the focus (panels may grab it while the workbench loads). */
async function focusEditor(page) {
  const editor = editorLines(page);
  await editor.waitFor({ timeout: LONG });
  for (let i = 0; ; i++) {
    await editor.click({ timeout: 5_000 }).catch(() => {});
    if ((await page.locator('.editor-instance .monaco-editor.focused').count()) > 0) return;
    if (i > 40) throw new Error('the editor never took the focus');
    await page.waitForTimeout(500);
  }
}

/** Waits for the workbench and the Explorer, clicking the page now and then as a
 *  person looking at a loading page would (so a slow load is not idle time). */
async function load(page) {
  const deadline = Date.now() + LONG;
  while (Date.now() < deadline) {
    if (await fileRow(page).isVisible().catch(() => false)) return;
    await page.mouse.click(640, 790).catch(() => {});
    await page.waitForTimeout(3000);
  }
  throw new Error('the workbench never listed the file');
}

/** The element at the centre of the viewport is inside `selector`. */
const onTop = (page, selector) =>
  page.evaluate((sel) => {
    const el = document.querySelector(sel);
    const hit = document.elementFromPoint(innerWidth / 2, innerHeight / 2);
    return !!el && el.contains(hit);
  }, selector);

await run(async (page) => {
  await page.goto(input.url, { timeout: LONG });
  await load(page);
  emit('loaded');

  // An unsaved edit.
  await fileRow(page).dblclick();
  await focusEditor(page);
  await page.keyboard.press('Control+End');
  await page.keyboard.press('Enter');
  await page.keyboard.type(input.text);
  emit('edited');

  // Typing every few seconds for longer than the idle timeout.
  const until = Date.now() + input.typing_ms;
  while (Date.now() < until) {
    await page.keyboard.type('.');
    await page.waitForTimeout(4000);
  }
  emit('typed', { text: await editorText(page) });

  // Hands off: the warning comes.
  const warning = page.locator('#dcs-idle-warning');
  await warning.waitFor({ state: 'visible', timeout: LONG });
  emit('warning', { text: await warning.innerText(), on_top: await warning.evaluate((el) => {
    const r = el.getBoundingClientRect();
    return el.contains(document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2));
  }) });
  // The screenshot runs while the test reads the clock, so it does not delay the
  // click (its failure is kept for after, not left unhandled meanwhile).
  const shot = page.screenshot({ path: `${input.screenshots}/warning.png` }).then(() => null, (e) => e);
  await waitFor('keep');
  const failed = await shot;
  if (failed) throw failed;
  await warning.getByRole('button', { name: 'Keep working' }).click();
  await warning.waitFor({ state: 'detached', timeout: LONG });
  emit('kept');

  // Hands off until the stop: the overlay comes.
  const overlay = page.locator('#dcs-stopped');
  await overlay.waitFor({ state: 'visible', timeout: 2 * LONG });
  await page.waitForTimeout(2000);
  await page.screenshot({ path: `${input.screenshots}/stopped.png` });
  emit('overlay', {
    text: await overlay.innerText(),
    on_top: await onTop(page, '#dcs-stopped'),
  });

  await waitFor('resume');
  // Whatever VS Code showed meanwhile (its reconnect attempts, "Cannot reconnect")
  // is under the overlay.
  const cannot = await page.getByText(/Cannot reconnect/i).count();
  await overlay.getByRole('button', { name: 'Resume' }).click();
  await page.waitForURL(() => true, { timeout: LONG }).catch(() => {});
  await page.waitForSelector('.monaco-workbench', { timeout: LONG });
  // The unsaved edit is back: the editor reopens with it (hot exit).
  const deadline = Date.now() + LONG;
  let text = '';
  while (Date.now() < deadline) {
    text = await editorText(page);
    if (text.includes(input.text)) break;
    await page.waitForTimeout(1000);
  }
  await page.screenshot({ path: `${input.screenshots}/resumed.png` });
  const dirty = await page.locator('.tab.dirty').count();
  emit('resumed', { text, dirty, cannot_reconnect_before: cannot });
});
