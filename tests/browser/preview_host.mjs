// Subdomain mode in Chromium: opening a preview's path on the main origin lands on
// the preview's own host (`<port>-<workspace>.preview.localhost`, which Chromium
// resolves to loopback), through the one-time ticket and the host's own cookie; a
// reload keeps working on that cookie alone. The app echoes the request head it got.
//
// Input: {main, url, cookies, screenshots}. Events: preview {url, origin, head,
// reloaded, document_cookie, api}, done | failed.
import { emit, input, run } from './lib.mjs';

const LONG = 60_000;

await run(async (page) => {
  await page.context().addCookies(input.cookies ?? []);
  const resp = await page.goto(input.url, { timeout: LONG });
  if (!resp || resp.status() !== 200) throw new Error(`landed with ${resp?.status()} at ${page.url()}`);
  const head = await page.locator('body').innerText();
  const again = await page.reload({ timeout: LONG });
  if (!again || again.status() !== 200) throw new Error(`reload answered ${again?.status()}`);
  const reloaded = await page.locator('body').innerText();
  const api = await page.evaluate(
    (main) => fetch(`${main}/api/me`, { credentials: 'include' })
      .then((r) => r.text())
      .then((t) => `read: ${t.slice(0, 200)}`, (e) => `blocked: ${e}`),
    input.main,
  );
  await page.screenshot({ path: `${input.screenshots}/preview-host.png` });
  emit('preview', {
    url: page.url(),
    origin: await page.evaluate(() => self.origin),
    head,
    reloaded,
    document_cookie: await page.evaluate(() => document.cookie),
    api,
  });
});
