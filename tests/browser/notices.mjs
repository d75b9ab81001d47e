// The launcher's notice banner in VS Code (code-server) in Chromium: the workbench
// loads, the banner the launcher injected shows the notice text on top of it
// (visible, inside the viewport, no CSP violation), and Dismiss hides it.
//
// Input: {url, screenshots, text}. Events: banner {text, box, csp_errors},
// dismissed, done | failed.
import { emit, input, run } from './lib.mjs';

const LONG = 120_000;

await run(async (page) => {
  const cspErrors = [];
  page.on('console', (msg) => {
    const text = msg.text();
    if (msg.type() === 'error' && /Content Security Policy|Trusted Type/i.test(text)) {
      cspErrors.push(text.slice(0, 300));
    }
  });
  await page.goto(input.url, { timeout: LONG });
  await page.waitForSelector('.monaco-workbench', { timeout: LONG });
  const notice = page.locator('#dcs-notices .dcs-notice').filter({ hasText: input.text }).first();
  await notice.waitFor({ state: 'visible', timeout: LONG });
  const box = await notice.boundingBox();
  if (!box || box.y < 0 || box.y > 800 || box.height < 5) {
    throw new Error(`the banner is not on screen: ${JSON.stringify(box)}`);
  }
  // On top: the element at the banner's centre is the banner (or inside it).
  const onTop = await notice.evaluate((el) => {
    const r = el.getBoundingClientRect();
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return el.contains(hit);
  });
  if (!onTop) throw new Error('the banner is covered by the workbench');
  await page.screenshot({ path: `${input.screenshots}/banner.png` });
  emit('banner', { text: await notice.innerText(), box, csp_errors: cspErrors });

  await notice.locator('.dcs-notice-dismiss').click();
  await notice.waitFor({ state: 'detached', timeout: LONG });
  emit('dismissed');
});
