// An API instance stopped from the home page: its row (by instance id) is listed
// running with a Stop button, and Stop turns it to stopped.
//
// Input: {url (the proxy's root), id}. Events: listed {state}, stopped {state},
// done | failed.
import { emit, input, run, step } from './lib.mjs';

const LONG = 120_000;

await run(async (page) => {
  const row = () => page.locator(`#rows tr[data-id="${input.id}"]`);
  const state = () => row().locator('td.state');
  await page.goto(input.url, { timeout: LONG });
  await state().filter({ hasText: 'running' }).waitFor({ timeout: LONG });
  emit('listed', { state: await state().innerText() });
  step('stop');
  await row().getByRole('button', { name: 'Stop' }).click();
  await state().filter({ hasText: 'stopped' }).waitFor({ timeout: LONG });
  emit('stopped', { state: await state().innerText() });
});
