// Shared helpers of the browser scripts: launch Debian's Chromium through
// playwright-core, report events to the Rust test on stdout, read its commands on stdin.
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

/** The flags this machine's closed network needs (no background connections). */
const ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** The page's last console messages and errors, and the script's events, told with a
 *  failure (VS Code logs its connection's story there: lost, reconnecting, permanent
 *  failure). `DCS_BROWSER_LOG=1` also writes each line to stderr as it comes. */
const consoleTail = [];
/** The lines of that tail that tell the story in brief (the script's events, the
 *  browser's dialogs, VS Code's connection and reload steps): the first line of a
 *  failure, where a CI log's excerpt shows it (the last 9, 100 characters each: one
 *  line of under 1,000 characters, which such excerpts keep whole). */
const story = [];
const STORY =
  /^(event |dialog |step |pageerror)|dcs: dialog|reconnect|permanent|Reload|veto|Creating a socket|Canceled|newer/;
const started = Date.now();
function remember(line) {
  const at = `+${((Date.now() - started) / 1000).toFixed(1)}s`;
  const stamped = `${at} ${line.slice(0, 300)}`;
  consoleTail.push(stamped);
  if (consoleTail.length > 40) consoleTail.shift();
  if (STORY.test(line)) {
    // A line told before (a save failing every few seconds) is counted where it
    // stands instead of pushing the steps that led to it out of the story.
    const text = line.replace(/%c|color: #[0-9a-f]{3}/g, '').replace(/\s+/g, ' ').trim().slice(0, 90);
    const told = story.find((s) => s.text === text);
    if (told) {
      told.times += 1;
      told.last = at;
    } else {
      story.push({ at, text, times: 1, last: at });
      if (story.length > 9) story.shift();
    }
  }
  if (process.env.DCS_BROWSER_LOG === '1') console.error(stamped);
}

/** The story in one line: each step once, with how often and until when it recurred. */
function storyLine() {
  return story
    .map((s) => (s.times > 1 ? `${s.at} ${s.text} (×${s.times} until ${s.last})` : `${s.at} ${s.text}`))
    .join(' | ');
}

/** Tells the story (and the console tail) what the script is doing now. */
export function step(what) {
  remember(`step ${what}`);
}

/** Whether a page's `confirm()` dialogs are accepted (dismissed unless set). */
const confirms = new WeakMap();
/** From now on, `page`'s `confirm()` dialogs are accepted (`yes`) or dismissed. */
export function answerConfirms(page, yes) {
  confirms.set(page, yes);
}

/** The script's single JSON argument. */
export const input = JSON.parse(process.argv[2] ?? '{}');

/** Tells the Rust side that `name` happened. */
export function emit(name, data = {}) {
  remember(`event ${name}`);
  process.stdout.write(`EVENT ${name} ${JSON.stringify(data)}\n`);
}

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

/** Waits for the Rust side to send `word` on a line of its own. */
export async function waitFor(word) {
  for (;;) {
    const { value, done } = await lines.next();
    if (done) throw new Error(`stdin closed while waiting for ${word}`);
    if (value.trim() === word) return;
  }
}

/** A headless Chromium page; `close()` ends the browser. */
export async function openPage() {
  const browser = await chromium.launch({
    executablePath: input.chromium ?? '/usr/bin/chromium',
    headless: true,
    args: ARGS,
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('pageerror', (e) => {
    console.error('pageerror:', String(e).slice(0, 300));
    remember(`pageerror: ${e}`);
  });
  page.on('console', (msg) => remember(`${msg.type()}: ${msg.text()}`));
  // The page's own modal dialogs (VS Code's "Cannot reconnect", "Reload Window"), told
  // when they appear and go: the story of a failure shows what the person was asked.
  await page.addInitScript(() => {
    let shown = new Map();
    setInterval(() => {
      const now = new Map();
      for (const box of document.querySelectorAll('.monaco-dialog-box')) {
        now.set(box, box.innerText.replace(/\s+/g, ' ').trim().slice(0, 120));
        if (!shown.has(box)) console.log(`dcs: dialog shown: ${now.get(box)}`);
      }
      for (const [box, text] of shown) if (!now.has(box)) console.log(`dcs: dialog gone: ${text}`);
      shown = now;
    }, 200);
  });
  // The browser's own dialogs, answered as the person the script plays would: a page
  // that navigates away leaves. VS Code vetoes an unload while it cannot back an edit
  // up (`veto.backups`: after its server died, code-server keeps backups with the
  // server), and the browser asks "Leave site?"; staying would keep a page whose
  // connection is gone for good, where every save fails with "Canceled". Any other
  // dialog is dismissed (Playwright's default), a `confirm` too unless the script
  // said to accept them (`answerConfirms`).
  page.on('dialog', async (dialog) => {
    remember(`dialog ${dialog.type()}: ${dialog.message()}`);
    const yes = dialog.type() === 'beforeunload' || (dialog.type() === 'confirm' && confirms.get(page));
    if (yes) await dialog.accept().catch(() => {});
    else await dialog.dismiss().catch(() => {});
  });
  return { browser, page };
}

/** What the page showed when a script failed (its address, title, open dialogs and
 *  notifications, the start of its text), so a failure in CI can be read from the
 *  log alone. */
async function describePage(page) {
  const texts = async (selector) =>
    (await page.locator(selector).allInnerTexts().catch(() => []))
      .map((t) => t.replace(/\s+/g, ' ').trim())
      .filter((t) => t);
  const shown = {
    url: page.url(),
    title: await page.title().catch(() => ''),
    dialogs: await texts('.monaco-dialog-box'),
    notifications: await texts('.notifications-toasts .notification-list-item'),
    statusbar: await texts('.statusbar-item.has-background-color'),
    text: (await page.locator('body').innerText({ timeout: 2000 }).catch(() => ''))
      .replace(/\s+/g, ' ')
      .slice(0, 600),
    console: consoleTail,
  };
  return `the page showed: ${JSON.stringify(shown)}`;
}

/** Runs `main`, reporting a failure as an event (with a screenshot) and exit 1. */
export async function run(main) {
  let ctx;
  try {
    ctx = await openPage();
    await main(ctx.page);
    emit('done');
  } catch (e) {
    if (ctx && input.screenshots) {
      await ctx.page.screenshot({ path: `${input.screenshots}/failure.png` }).catch(() => {});
    }
    const page = ctx ? await describePage(ctx.page) : 'no page';
    const brief = `${String(e?.message ?? e).split('\n')[0]}; the story: ${storyLine()}`;
    emit('failed', { error: `${brief}\n${String(e?.stack ?? e)}\n${page}` });
    process.exitCode = 1;
  } finally {
    await ctx?.browser.close().catch(() => {});
    process.stdin.destroy();
  }
}
