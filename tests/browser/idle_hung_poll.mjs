// A poll of the idle clock that is never answered (a laptop lid closed and opened, a
// proxy replica gone without a reset) must not end the tab's clock: the page gives
// it up and asks again, so a stop asked for afterwards still shows its warning.
//
// Input: {url}. Events: loaded, held (the poll held for good was sent), warning
// {text}, done | failed. Stdin: `asked` (the stop was asked for).
import { emit, input, run, waitFor } from './lib.mjs';

const LONG = 150_000;

await run(async (page) => {
  await page.goto(input.url, { timeout: LONG });
  await page.waitForFunction(() => window.__dcsIdle === true, null, { timeout: LONG });
  // The next poll is never answered (neither continued nor failed); later ones pass.
  let held = false;
  await page.route('**/_dcs/idle', async (route) => {
    if (!held) {
      held = true;
      emit('held');
      return;
    }
    await route.continue();
  });
  emit('loaded');

  await waitFor('asked');
  const warning = page.locator('#dcs-idle-warning');
  await warning.waitFor({ state: 'visible', timeout: LONG });
  emit('warning', { text: await warning.innerText() });
});
