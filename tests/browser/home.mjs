// The home page in Chromium: an empty list at first; a mistyped repository is
// refused with why, the text kept in the box; a pasted GitHub link opens the
// workspace; back home it is listed running; Stop stops it; Delete asks first (a
// cancelled confirmation keeps it), then forgets it; opened again and deleted
// elsewhere, the stale row's Stop says why it failed and the row goes.
//
// Input: {url (the proxy's root), link, typo}. Events: empty, refused {text, value},
// opened {url}, listed {state}, stopped {state}, kept, deleted, ready-for-stale,
// stale-refused {text}, done | failed. Stdin: `open-again`, `deleted-elsewhere`.
import { answerConfirms, emit, input, run, step, waitFor } from './lib.mjs';

const LONG = 120_000;

await run(async (page) => {
  const row = () => page.locator('#rows tr').filter({ hasText: 'acme/hello' });
  const state = () => row().locator('td.state');

  await page.goto(input.url, { timeout: LONG });
  await page.locator('#empty').waitFor({ state: 'visible', timeout: LONG });
  emit('empty');

  step('a typo');
  await page.locator('#repo').fill(input.typo);
  await page.getByRole('button', { name: 'Open' }).click();
  await page.locator('#refused').waitFor({ timeout: LONG });
  emit('refused', {
    text: await page.locator('#refused').innerText(),
    value: await page.locator('#repo').inputValue(),
  });

  step('a pasted link');
  await page.locator('#repo').fill(input.link);
  await page.getByRole('button', { name: 'Open' }).click();
  // The `none` IDE's file manager lists the checkout.
  await page.getByRole('link', { name: 'README.md' }).first().waitFor({ timeout: LONG });
  emit('opened', { url: page.url() });

  await page.goto(input.url, { timeout: LONG });
  await state().filter({ hasText: 'running' }).waitFor({ timeout: LONG });
  emit('listed', { state: await state().innerText() });

  step('stop');
  await row().getByRole('button', { name: 'Stop' }).click();
  await state().filter({ hasText: 'stopped' }).waitFor({ timeout: LONG });
  emit('stopped', { state: await state().innerText() });

  step('delete, cancelled');
  await row().getByRole('button', { name: 'Delete' }).click();
  // The list is read again after the (cancelled) action: the row is back, enabled.
  await row().getByRole('button', { name: 'Delete' }).and(page.locator(':enabled')).waitFor({ timeout: LONG });
  emit('kept');

  step('delete');
  answerConfirms(page, true);
  await row().getByRole('button', { name: 'Delete' }).click();
  await page.locator('#empty').waitFor({ state: 'visible', timeout: LONG });
  emit('deleted');
  // The test reads the list itself before this tab opens the workspace again.
  await waitFor('open-again');

  // Opened again, then deleted elsewhere while this tab still lists it: its Stop
  // says why it failed, and the list reads again without it.
  await page.locator('#repo').fill('acme/hello');
  await page.getByRole('button', { name: 'Open' }).click();
  await page.getByRole('link', { name: 'README.md' }).first().waitFor({ timeout: LONG });
  await page.goto(input.url, { timeout: LONG });
  await state().filter({ hasText: 'running' }).waitFor({ timeout: LONG });
  emit('ready-for-stale');
  await waitFor('deleted-elsewhere');
  await row().getByRole('button', { name: 'Stop' }).click();
  await page.locator('#failed').waitFor({ state: 'visible', timeout: LONG });
  await page.locator('#empty').waitFor({ state: 'visible', timeout: LONG });
  emit('stale-refused', { text: await page.locator('#failed').innerText() });
});
