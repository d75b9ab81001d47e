// An admin's home page: their own list (empty), then Everyone's ticked: another
// user's instance with its owner and no Open link, stopped from there; unticked,
// their own list again.
//
// Input: {url (the proxy's root), id (the other user's instance)}. Events: own-empty,
// listed {owner, href}, stopped {state}, own-again, done | failed.
import { emit, input, run, step } from './lib.mjs';

const LONG = 120_000;

await run(async (page) => {
  const row = () => page.locator(`#rows tr[data-id="${input.id}"]`);
  const state = () => row().locator('td.state');
  await page.goto(input.url, { timeout: LONG });
  await page.locator('#everyone-box').waitFor({ state: 'visible', timeout: LONG });
  await page.locator('#empty').waitFor({ state: 'visible', timeout: LONG });
  emit('own-empty');

  step("everyone's");
  await page.locator('#everyone').check();
  await state().filter({ hasText: 'running' }).waitFor({ timeout: LONG });
  emit('listed', {
    owner: await row().locator('td.owner').innerText(),
    href: await row().locator('a.open').getAttribute('href'),
  });

  step('stop');
  await row().getByRole('button', { name: 'Stop' }).click();
  await state().filter({ hasText: 'stopped' }).waitFor({ timeout: LONG });
  emit('stopped', { state: await state().innerText() });

  step('own again');
  await page.locator('#everyone').uncheck();
  await page.locator('#empty').waitFor({ state: 'visible', timeout: LONG });
  emit('own-again');
});
