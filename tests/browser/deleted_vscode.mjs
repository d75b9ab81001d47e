// A workspace deleted under an open VS Code tab (code-server in Chromium): VS Code's
// reconnect attempts and the page's polls do not bring it back, the tab says it was
// deleted (over whatever VS Code shows), and Open again starts it afresh on the
// same files.
//
// Input: {url, screenshots, file}. Events: loaded, overlay {text, on_top, button,
// reconnects}, reopened, done | failed.
// Stdin: `deleted` (the test deleted the workspace), `open` (click Open again).
import { emit, input, run, step, waitFor } from './lib.mjs';
import { fileRow } from './vscode.mjs';

const LONG = 180_000;

await run(async (page) => {
  // Every WebSocket the page opens after the delete: VS Code's reconnect attempts.
  let deleted = false;
  let reconnects = 0;
  page.on('websocket', () => { if (deleted) reconnects += 1; });

  await page.goto(input.url, { timeout: LONG });
  await fileRow(page, input.file).waitFor({ timeout: LONG });
  emit('loaded');

  await waitFor('deleted');
  deleted = true;
  step('waiting for the overlay and a reconnect attempt');
  const overlay = page.locator('#dcs-stopped');
  await overlay.waitFor({ state: 'visible', timeout: LONG });
  const deadline = Date.now() + LONG;
  while (reconnects === 0) {
    if (Date.now() > deadline) throw new Error('VS Code never tried to reconnect');
    await page.waitForTimeout(250);
  }
  await page.screenshot({ path: `${input.screenshots}/deleted.png` });
  emit('overlay', {
    text: await overlay.innerText(),
    button: await overlay.locator('button').innerText(),
    on_top: await page.evaluate(() => {
      const el = document.getElementById('dcs-stopped');
      return !!el && el.contains(document.elementFromPoint(innerWidth / 2, innerHeight / 2));
    }),
    reconnects,
  });

  await waitFor('open');
  step('Open again');
  await overlay.getByRole('button', { name: 'Open again' }).click();
  await fileRow(page, input.file).waitFor({ timeout: LONG });
  await page.screenshot({ path: `${input.screenshots}/reopened.png` });
  emit('reopened');
});
