// A port preview in Chromium, served under the workspace's path: the page renders
// and its own scripts run, but in an opaque origin (the proxy's sandbox policy), so
// they cannot read /api/me or the workspace's files with the user's session.
//
// Input: {url, screenshots}. Events: preview {title, inline, ext, api, files, ws,
// origin}, done | failed.
import { emit, input, run } from './lib.mjs';

const LONG = 60_000;

await run(async (page) => {
  await page.goto(input.url, { timeout: LONG });
  await page.locator('#title').waitFor({ state: 'visible', timeout: LONG });
  // Every attempt the page makes settles one way or the other.
  await page.waitForFunction(
    () => document.readyState === 'complete'
      && ['api', 'files', 'ws'].every((id) => !document.getElementById(id).textContent.includes('pending')),
    null,
    { timeout: LONG },
  );
  const text = async (id) => (await page.locator(`#${id}`).textContent()).trim();
  await page.screenshot({ path: `${input.screenshots}/preview-sandboxed.png` });
  emit('preview', {
    title: await text('title'),
    inline: await text('inline'),
    ext: await text('ext'),
    api: await text('api'),
    files: await text('files'),
    ws: await text('ws'),
    origin: await page.evaluate(() => self.origin),
  });
});
