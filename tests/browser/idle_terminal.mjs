// A job the user watches in VS Code's integrated terminal (code-server) in
// Chromium: the terminal is opened from the command palette, a CPU-bound job is
// started in it, and the page is left untouched while it runs; on `interrupt` the
// job is stopped with Ctrl+C (one key: input), and the page is left untouched again.
//
// Input: {url, screenshots, command}. Events: loaded, started, interrupted,
// done | failed.
// Stdin: `interrupt` (Ctrl+C in the terminal), `finish`.
import { emit, input, run, waitFor } from './lib.mjs';
import { fileRow } from './vscode.mjs';

const LONG = 180_000;

/** Waits for the workbench and the Explorer, clicking the page now and then as a
 *  person looking at a loading page would (so a slow load is not idle time). */
async function load(page) {
  const deadline = Date.now() + LONG;
  while (Date.now() < deadline) {
    if (await fileRow(page, 'README.md').isVisible().catch(() => false)) return;
    await page.mouse.click(640, 790).catch(() => {});
    await page.waitForTimeout(3000);
  }
  throw new Error('the workbench never listed the file');
}

/** Opens a new integrated terminal from the command palette and gives it the focus;
 *  returns its rows once the shell printed its prompt (it reads what is typed then). */
async function openTerminal(page) {
  const rows = page.locator('.terminal-wrapper .xterm-rows').first();
  const prompted = async () => (await rows.innerText({ timeout: 1000 }).catch(() => '')).trim() !== '';
  for (let i = 0; !(await rows.isVisible().catch(() => false)); i++) {
    if (i > 5) throw new Error('no integrated terminal opened');
    await page.keyboard.press('Escape');
    await page.keyboard.press('F1');
    const box = page.locator('.quick-input-widget input');
    if (!(await box.waitFor({ state: 'visible', timeout: 10_000 }).then(() => true, () => false))) continue;
    await box.fill('>Terminal: Create New Terminal');
    await page.waitForTimeout(500);
    await page.keyboard.press('Enter');
    await rows.waitFor({ state: 'visible', timeout: 30_000 }).catch(() => {});
  }
  // Clicking the terminal now and then while its shell starts, as a person waiting
  // for it would (so a slow start is not idle time).
  const deadline = Date.now() + LONG;
  for (let i = 1; !(await prompted()); i++) {
    if (Date.now() > deadline) throw new Error('the terminal never showed a prompt');
    if (i % 6 === 0) await page.locator('.terminal-wrapper .xterm').first().click().catch(() => {});
    await page.waitForTimeout(500);
  }
  await page.locator('.terminal-wrapper .xterm').first().click();
  return rows;
}

await run(async (page) => {
  await page.goto(input.url, { timeout: LONG });
  await load(page);
  emit('loaded');

  const rows = await openTerminal(page);
  // Typed until the line shows it whole (keys typed while the terminal takes the
  // focus can be lost), then run.
  for (let i = 0; ; i++) {
    await page.keyboard.press('Control+U');
    await page.keyboard.type(input.command);
    const shown = await page
      .waitForFunction(
        // Rows wrap a long prompt's line: compared without line breaks and blanks.
        ([el, want]) => el && el.innerText.replace(/\s+/g, '').includes(want.replace(/\s+/g, '')),
        [await rows.elementHandle(), input.command],
        { timeout: 10_000 },
      )
      .then(() => true, () => false);
    if (shown) break;
    if (i > 5) throw new Error(`the terminal never showed the typed command: ${await rows.innerText()}`);
    await page.locator('.terminal-wrapper .xterm').first().click().catch(() => {});
  }
  await page.keyboard.press('Enter');
  await page.waitForTimeout(1000);
  await page.screenshot({ path: `${input.screenshots}/terminal-job.png` });
  emit('started', { text: (await rows.innerText()).slice(-500) });

  // Hands off while the job runs.
  await waitFor('interrupt');
  await page.locator('.terminal-wrapper .xterm').first().click();
  await page.keyboard.press('Control+C');
  emit('interrupted');

  // Hands off again until the test is done with the page.
  await waitFor('finish');
});
