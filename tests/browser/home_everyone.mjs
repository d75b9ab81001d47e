// API instances on the home page: the signed-in person's own is listed running with
// a Stop button, and Stop stops it; as an admin they tick Everyone's: another user's
// instance is listed with its owner and no Open link, and Stop stops it too;
// unticked, their own list again (without the other's).
//
// Input: {url (the proxy's root), own, other (instance ids)}. Events: own-stopped
// {state}, listed {owner, href}, other-stopped {state}, own-again {rows},
// done | failed.
import { emit, input, run, step } from './lib.mjs';

const LONG = 120_000;

await run(async (page) => {
  const row = (id) => page.locator(`#rows tr[data-id="${id}"]`);
  const state = (id) => row(id).locator('td.state');
  /** Stops the row of `id` and waits until the list reads it stopped. */
  async function stop(id) {
    await state(id).filter({ hasText: 'running' }).waitFor({ timeout: LONG });
    await row(id).getByRole('button', { name: 'Stop' }).click();
    await state(id).filter({ hasText: 'stopped' }).waitFor({ timeout: LONG });
    return state(id).innerText();
  }

  await page.goto(input.url, { timeout: LONG });
  step('own');
  emit('own-stopped', { state: await stop(input.own) });

  step("everyone's");
  await page.locator('#everyone-box').waitFor({ state: 'visible', timeout: LONG });
  await page.locator('#everyone').check();
  await state(input.other).waitFor({ timeout: LONG });
  emit('listed', {
    owner: await row(input.other).locator('td.owner').innerText(),
    href: await row(input.other).locator('a.open').getAttribute('href'),
  });
  emit('other-stopped', { state: await stop(input.other) });

  step('own again');
  await page.locator('#everyone').uncheck();
  await row(input.other).waitFor({ state: 'detached', timeout: LONG });
  emit('own-again', { rows: await page.locator('#rows tr').count() });
});
