// Cross-site requests in Chromium: a page of another origin tries the terminal
// WebSocket and a POST to /api/instances through the proxy; then a page of the
// proxy's own origin does the same. Each attempt reports whether the WebSocket
// opened and what status the proxy answered the POST with (seen by the browser's
// network layer, since a cross-origin page may not read it).
//
// Input: {foreign, proxy}. Events: foreign {ws, status, body}, own {ws, status, body},
// done | failed.
import { emit, input, run } from './lib.mjs';

/** Tries the terminal WebSocket and a POST from the page now loaded. */
async function attempt(page, { contentType, mode }) {
  const answered = page.waitForResponse(
    (r) => r.url() === `${input.proxy}/api/instances` && r.request().method() === 'POST',
    { timeout: 90_000 },
  );
  const ws = await page.evaluate(async (proxy) => new Promise((resolve) => {
    const socket = new WebSocket(`${proxy.replace(/^http/, 'ws')}/github/acme/hello/_dcs/terminal`);
    const timer = setTimeout(() => resolve('no answer'), 90_000);
    socket.onopen = () => { clearTimeout(timer); socket.close(); resolve('open'); };
    socket.onerror = () => { clearTimeout(timer); resolve('refused'); };
  }), input.proxy);
  // A "simple" request (text/plain, no-cors) needs no preflight: it is what a
  // foreign page can send with the user's credentials. The page reads the answer
  // where it may (an opaque one reads as '').
  const body = await page.evaluate(async ({ proxy, contentType, mode }) => {
    try {
      const r = await fetch(`${proxy}/api/instances`, {
        method: 'POST',
        mode,
        headers: { 'content-type': contentType },
        body: JSON.stringify({ repo: 'acme/hello', ide: 'none' }),
      });
      return await r.text();
    } catch (e) {
      return `fetch failed: ${e}`;
    }
  }, { proxy: input.proxy, contentType, mode });
  const resp = await answered;
  return { ws, status: resp.status(), body: body.slice(0, 500) };
}

await run(async (page) => {
  await page.goto(input.foreign, { timeout: 60_000 });
  emit('foreign', await attempt(page, { contentType: 'text/plain', mode: 'no-cors' }));

  await page.goto(`${input.proxy}/healthz`, { timeout: 60_000 });
  emit('own', await attempt(page, { contentType: 'application/json', mode: 'same-origin' }));
});
