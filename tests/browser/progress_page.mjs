// The live progress page in Chromium: the navigation gets the page at once, the page
// follows the start's phases and lands in the workspace by itself (one reload, its
// own), or shows why the start failed.
//
// Input: {url, screenshots, expect?: "failure", phases?: [..], landsOn?: text}.
// Events: progress {phase, title}; phase {phase} as the page shows each of `phases`
// in turn; then landed {seen, navigations} | failure {text}; done | failed.
// The workspace is recognised by its file manager's README.md link, or by the text
// `landsOn`.
import { emit, input, run } from './lib.mjs';

await run(async (page) => {
  let navigations = 0;
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) navigations += 1;
  });
  await page.goto(input.url, { timeout: 60_000, waitUntil: 'domcontentloaded' });
  const phase = await page.evaluate(() => document.documentElement.dataset.phase ?? null);
  emit('progress', { phase, title: await page.title() });
  for (const want of input.phases ?? []) {
    await page.waitForFunction(
      (p) => document.documentElement.dataset.phase === p,
      want,
      { timeout: 90_000 },
    );
    emit('phase', { phase: want });
  }

  if (input.expect === 'failure') {
    // The page's failure box (or, for a start that failed at once, the error page).
    await page.waitForFunction(
      () => {
        const box = document.getElementById('failure');
        return (box && !box.hidden) || !document.getElementById('steps');
      },
      null,
      { timeout: 90_000 },
    );
    await page.screenshot({ path: `${input.screenshots}/progress-failed.png` });
    emit('failure', { text: await page.evaluate(() => document.body.innerText) });
    return;
  }

  const workspace = input.landsOn
    ? page.getByText(input.landsOn)
    : page.getByRole('link', { name: 'README.md' });
  await workspace.first().waitFor({ timeout: 90_000 });
  await page.screenshot({ path: `${input.screenshots}/progress-landed.png` });
  const key = `dcs-progress-seen:${new URL(input.url).pathname}_dcs/progress`;
  const seen = await page.evaluate((k) => JSON.parse(sessionStorage.getItem(k) || '[]'), key);
  emit('landed', { seen, navigations });
});
