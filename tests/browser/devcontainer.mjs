// The devcontainer.json consent notice in VS Code (code-server) in Chromium: the
// workbench loads, the launcher's banner asks (notice `devcontainer`, on screen, no
// CSP violation), and clicking "Allow and run" sends the page's own request (our
// origin), after which the banner no longer asks.
//
// Input: {url, screenshots}. Events: asked {text, buttons, csp_errors}, clicked,
// answered {text}, done | failed.
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
  const notice = page.locator('#dcs-notices .dcs-notice[data-id="devcontainer"]').first();
  await notice.waitFor({ state: 'visible', timeout: LONG });
  const box = await notice.boundingBox();
  if (!box || box.y < 0 || box.y > 800 || box.height < 5) {
    throw new Error(`the banner is not on screen: ${JSON.stringify(box)}`);
  }
  const buttons = await notice.locator('button').allInnerTexts();
  await page.screenshot({ path: `${input.screenshots}/asked.png` });
  emit('asked', {
    text: await notice.locator('.dcs-notice-text').innerText(),
    buttons,
    csp_errors: cspErrors,
  });

  await notice.locator('button', { hasText: 'Allow and run' }).click();
  emit('clicked');
  // The banner is fetched again after the action: it no longer asks (it says what
  // runs, or is gone once all is done).
  await page.waitForFunction(
    () => ![...document.querySelectorAll('#dcs-notices button')]
      .some((b) => b.textContent === 'Allow and run'),
    null,
    { timeout: LONG },
  );
  await page.screenshot({ path: `${input.screenshots}/answered.png` });
  const rest = await page.locator('#dcs-notices').innerText().catch(() => '');
  emit('answered', { text: rest });
});
