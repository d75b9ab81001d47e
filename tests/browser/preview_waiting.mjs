// A port preview opened before its app listens, in Chromium under the proxy's sandbox:
// the launcher's 502 page reloads itself (nobody reloads it here) and shows the app
// once it answers.
//
// Input: {url}. Events: waiting {status, heading}, app {title, reloads}, done | failed.
import { emit, input, run } from './lib.mjs';

const LONG = 60_000;

await run(async (page) => {
  let reloads = 0;
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) reloads += 1;
  });
  const resp = await page.goto(input.url, { timeout: LONG });
  const heading = page.locator('h1');
  await heading.waitFor({ state: 'visible', timeout: LONG });
  emit('waiting', { status: resp.status(), heading: (await heading.textContent()).trim() });
  const first = reloads;
  await page.locator('#title').waitFor({ state: 'visible', timeout: LONG });
  emit('app', { title: (await page.locator('#title').textContent()).trim(), reloads: reloads - first });
});
