// A page of the proxy's open in Chromium when its sign-in expires (`--auth authentik`
// against the stand-in outpost): the IDE page (`--ide none`, with the launcher's
// injected idle script) or the progress page. The browser signs in through the fake
// IdP, the test ends the session at the outpost, and the page must say so ("Your
// sign-in expired", Sign in again) and stop polling; Sign in again goes through the
// sign-in and back to the same page.
//
// Input: {url, login, kind: "ide"|"progress", quiet_ms, deadline_ms, screenshots,
//         ingress?: url}. With `ingress` (the IDE page), a last step plays an ingress
//   that does the sign-in itself (ingress-nginx's `auth-signin`): the page's polls are
//   answered 302 to `ingress` (another origin) by the browser's request interception,
//   after two polls that fail as a network blip does, which must not read as signed
//   out.
// Events: loaded {cookie, polls}; signed-out {text, on_top, polls}; quiet {polls_after};
//   back {covered}; blips {count, covered}; redirected {text}; done | failed.
// Stdin: `sign-in` (click Sign in again), `ingress` (start the ingress step).
import { emit, input, run, step, waitFor } from './lib.mjs';

const LONG = 180_000;
const ide = input.kind === 'ide';
const POLLED = ide ? '/_dcs/idle' : '/_dcs/progress';
const COVER = ide ? '#dcs-signed-out' : '#signed-out';

/** Times of the page's polls (requests for POLLED), and of the aborted ones. */
const polls = [];

/** Resolves once `cond()` holds, polling every 100 ms; throws after `ms`. */
async function until(what, cond, ms = LONG) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Signs in at the fake IdP's login page (where a navigation was sent) and waits
 *  until the page is back. */
async function signIn(page) {
  await page.waitForURL(/\/idp\/authorize\?/, { timeout: LONG });
  step('at the IdP');
  await page.goto(`${page.url()}&login=${encodeURIComponent(input.login)}`, { timeout: LONG });
  await ready(page);
}

/** Waits for the page to be the workspace (its file manager) or the progress page. */
async function ready(page) {
  if (ide) await page.getByRole('link', { name: 'README.md' }).first().waitFor({ timeout: LONG });
  else await page.locator('#steps').waitFor({ timeout: LONG });
}

const onTop = (page, selector) =>
  page.evaluate((sel) => {
    const el = document.querySelector(sel);
    const hit = document.elementFromPoint(innerWidth / 2, innerHeight / 2);
    return !!el && !el.hidden && el.contains(hit);
  }, selector);

await run(async (page) => {
  page.on('request', (req) => {
    if (new URL(req.url()).pathname.endsWith(POLLED)) polls.push(Date.now());
  });
  await page.goto(input.url, { timeout: LONG });
  await signIn(page);
  // The page polls while signed in (so polls that stop later mean something).
  const since = polls.length;
  await until('two polls of the signed-in page', () => polls.length >= since + 2);
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name.startsWith('authentik_proxy_'));
  if (!session) throw new Error(`no session cookie: ${JSON.stringify(cookies.map((c) => c.name))}`);
  emit('loaded', { cookie: `${session.name}=${session.value}`, polls: polls.length });

  // The test ends the session at the outpost now: the page must say so.
  const cover = page.locator(COVER);
  await cover.waitFor({ state: 'visible', timeout: input.deadline_ms });
  const shownAt = Date.now();
  if (input.screenshots) await page.screenshot({ path: `${input.screenshots}/signed-out-${input.kind}.png` });
  emit('signed-out', { text: await cover.innerText(), on_top: await onTop(page, COVER), polls: polls.length });

  // Polling ended: nothing is asked over a span of several poll periods (an absence
  // can only be seen over a span).
  await page.waitForTimeout(input.quiet_ms);
  emit('quiet', { polls_after: polls.filter((t) => t > shownAt).length });

  await waitFor('sign-in');
  await cover.getByRole('button', { name: 'Sign in again' }).click();
  await signIn(page);
  emit('back', { covered: await cover.isVisible() });

  if (!input.ingress) return;
  await waitFor('ingress');
  // A network blip first: two polls fail (the fetch rejects); the page keeps going.
  let blips = 0;
  await page.route(`**${POLLED}`, (route) => {
    blips += 1;
    return route.abort('connectionreset');
  });
  await until('two failed polls', () => blips >= 2);
  emit('blips', { count: blips, covered: await cover.isVisible() });
  await page.unroute(`**${POLLED}`);
  // Then the ingress: the session expired, so its answer is a 302 to the sign-in
  // page on another origin, for every request.
  await page.route(`**${POLLED}`, (route) =>
    route.fulfill({ status: 302, headers: { location: input.ingress } }));
  await cover.waitFor({ state: 'visible', timeout: input.deadline_ms });
  emit('redirected', { text: await cover.innerText() });
});
