// A stop asked for elsewhere, as a tab on another proxy replica meets it: the
// workspace's clock says the stop was asked for, and the tab's warning says so
// (not that nobody used it); Keep working undoes it.
//
// Input: {url}. Events: loaded, warning {text}, kept, done | failed.
// Stdin: `asked` (the stop was asked for), `keep` (click Keep working).
import { emit, input, run, waitFor } from './lib.mjs';

const LONG = 120_000;

await run(async (page) => {
  await page.goto(input.url, { timeout: LONG });
  // The `none` IDE's file manager, with the idle clock's script running.
  await page.waitForFunction(() => window.__dcsIdle === true, null, { timeout: LONG });
  emit('loaded');

  await waitFor('asked');
  const warning = page.locator('#dcs-idle-warning');
  await warning.waitFor({ state: 'visible', timeout: LONG });
  emit('warning', { text: await warning.innerText() });

  await waitFor('keep');
  await warning.getByRole('button', { name: 'Keep working' }).click();
  await warning.waitFor({ state: 'detached', timeout: LONG });
  emit('kept');
});
