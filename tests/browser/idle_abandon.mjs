// An abandoned VS Code tab, for dcs-bench-idle: open the workbench, press one key in
// the editor, then never touch the page again. Reports when the idle warning and,
// after the stop, the Resume overlay appear (unix milliseconds of this machine).
//
// Input: {url, screenshots, file}. Events: touched {at}, warning {at, text},
// overlay {at, text}, done | failed.
import { emit, input, run } from './lib.mjs';
import { openFile } from './vscode.mjs';

const LONG = 600_000;

await run(async (page) => {
  const editor = await openFile(page, input.url, input.file, LONG);
  await editor.click({ timeout: LONG });
  await page.keyboard.press('End');
  emit('touched', { at: Date.now() });

  const warning = page.locator('#dcs-idle-warning');
  await warning.waitFor({ state: 'visible', timeout: LONG });
  emit('warning', { at: Date.now(), text: await warning.innerText() });

  const overlay = page.locator('#dcs-stopped');
  await overlay.waitFor({ state: 'visible', timeout: LONG });
  emit('overlay', { at: Date.now(), text: await overlay.innerText() });
  await page.screenshot({ path: `${input.screenshots}/abandoned.png` });
});
