// The home page follows a start by itself: a workspace listed as starting (its
// clone hangs) goes from the list without anyone touching the page once it is
// deleted elsewhere.
//
// Input: {url (the proxy's root)}. Events: starting, gone, done | failed. Stdin:
// `deleted` once the test has deleted the workspace.
import { emit, input, run, waitFor } from './lib.mjs';

const LONG = 120_000;

await run(async (page) => {
  await page.goto(input.url, { timeout: LONG });
  const state = page.locator('#rows tr').filter({ hasText: 'acme/hello' }).locator('td.state');
  await state.filter({ hasText: 'starting' }).waitFor({ timeout: LONG });
  emit('starting');
  await waitFor('deleted');
  await page.locator('#empty').waitFor({ state: 'visible', timeout: LONG });
  emit('gone');
});
