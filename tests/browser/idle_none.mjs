// The idle clock with the `none` IDE in Chromium: the warning shows on the file
// manager and Keep working defers the stop; an untouched tab lets it stop and shows
// the Resume overlay; Resume brings the file manager back; Stop now stops it at once.
//
// Input: {url, screenshots}. Events: loaded, warning {text}, kept, overlay {text,
// on_top}, resumed, stopping, stopped-now {text}, done | failed.
// Stdin: `keep`, `resume`, `stop` (click Keep working, Resume, Stop now).
import { emit, input, run, waitFor } from './lib.mjs';

const LONG = 180_000;

const onTop = (page, selector) =>
  page.evaluate((sel) => {
    const el = document.querySelector(sel);
    const hit = document.elementFromPoint(innerWidth / 2, innerHeight / 2);
    return !!el && el.contains(hit);
  }, selector);

await run(async (page) => {
  await page.goto(input.url, { timeout: LONG });
  await page.getByRole('link', { name: 'README.md' }).first().waitFor({ timeout: LONG });
  emit('loaded');

  const warning = page.locator('#dcs-idle-warning');
  await warning.waitFor({ state: 'visible', timeout: LONG });
  emit('warning', { text: await warning.innerText() });
  // The screenshot runs while the test reads the clock, so it does not delay the
  // click (its failure is kept for after, not left unhandled meanwhile).
  const shot = page.screenshot({ path: `${input.screenshots}/none-warning.png` }).then(() => null, (e) => e);
  await waitFor('keep');
  const failed = await shot;
  if (failed) throw failed;
  await warning.getByRole('button', { name: 'Keep working' }).click();
  await warning.waitFor({ state: 'detached', timeout: LONG });
  emit('kept');

  const overlay = page.locator('#dcs-stopped');
  await overlay.waitFor({ state: 'visible', timeout: 2 * LONG });
  await page.screenshot({ path: `${input.screenshots}/none-stopped.png` });
  emit('overlay', { text: await overlay.innerText(), on_top: await onTop(page, '#dcs-stopped') });

  await waitFor('resume');
  await overlay.getByRole('button', { name: 'Resume' }).click();
  await page.getByRole('link', { name: 'README.md' }).first().waitFor({ timeout: LONG });
  emit('resumed');

  // Stop now, from the next warning.
  await waitFor('stop');
  await warning.waitFor({ state: 'visible', timeout: LONG });
  emit('stopping');
  await warning.getByRole('button', { name: 'Stop now' }).click();
  await overlay.waitFor({ state: 'visible', timeout: LONG });
  emit('stopped-now', { text: await overlay.innerText() });
});
