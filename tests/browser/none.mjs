// The `none` IDE in Chromium: the file manager lists the README and its terminal
// panel runs a command typed with the keyboard on a real shell.
//
// Input: {url, screenshots}. Events: listing, terminal, done | failed.
import { emit, input, run } from './lib.mjs';

await run(async (page) => {
  await page.goto(input.url, { timeout: 60_000 });
  await page.getByRole('link', { name: 'README.md' }).first().waitFor({ timeout: 60_000 });
  emit('listing');

  const term = page.locator('#dcs-term[data-state="open"]');
  await term.waitFor({ timeout: 30_000 });
  await term.click();
  await page.keyboard.type('echo from-$((6*7))');
  await page.keyboard.press('Enter');
  await page.waitForFunction(
    () => document.getElementById('dcs-term').textContent.includes('from-42'),
    null,
    { timeout: 30_000 },
  );
  await page.screenshot({ path: `${input.screenshots}/file-manager-terminal.png` });
  emit('terminal', { text: (await term.textContent()).slice(-500) });
});
