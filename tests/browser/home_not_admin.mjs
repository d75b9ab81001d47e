// The home page of someone in no admin group: their own workspaces only, and no
// Everyone's box; ticked anyway (the box unhidden by hand, as someone curious would
// in the developer tools), the list of everyone's is refused by the API and the page
// says so, showing nobody else's workspace.
//
// Input: {url (the proxy's root), headers (the signed-in person's, sent with every
// request), own (their instance's id)}. Events: listed {ids, everyone},
// forced {failed, ids}, done | failed.
import { emit, input, run, step } from './lib.mjs';

const LONG = 120_000;

await run(async (page) => {
  const ids = () => page.locator('#rows tr').evaluateAll((rows) => rows.map((r) => r.dataset.id));
  await page.setExtraHTTPHeaders(input.headers);
  await page.goto(input.url, { timeout: LONG });
  step('own');
  // The page asks who is signed in before it reads the list: once a row shows, the
  // box is as it stays.
  await page.locator(`#rows tr[data-id="${input.own}"]`).waitFor({ timeout: LONG });
  emit('listed', { ids: await ids(), everyone: await page.locator('#everyone-box').isVisible() });

  step('forced');
  await page.evaluate(() => { document.getElementById('everyone-box').hidden = false; });
  await page.locator('#everyone').check();
  const failed = page.locator('#failed');
  await failed.waitFor({ state: 'visible', timeout: LONG });
  emit('forced', { failed: await failed.innerText(), ids: await ids() });
});
