// Records what a real VS Code tab (code-server in Chromium) sends to its workspace,
// in the corpus format of the launcher's idle clock (launcher/src/activity/corpus.rs):
// every WebSocket the page opens (`open <n>`, its upgrade request), every message it
// sends on one (`ws:<n> <hex>`, as a masked frame, each VS Code message's data cut
// to a few bytes), every HTTP request that reaches
// the network (`http <METHOD> <path> [background]`), the page script's input
// beacons (`beacon <kind>`), each with `at <ms>` since the page was opened.
//
// The session: open the workbench, open `file`, then either leave the tab alone for
// `idle_ms` (mode "idle") or type `text` a key every 300 ms for `idle_ms` (mode
// "typing"), then close. Paths are those the launcher sees (the workspace prefix
// taken off).
//
// Input: {url, screenshots, file, mode, idle_ms, out}. Events: loaded, recorded
// {lines}, done | failed.
import { writeFileSync } from 'node:fs';
import { emit, input, run } from './lib.mjs';
import { openFile } from './vscode.mjs';

const LONG = 600_000;
const prefix = new URL(input.url).pathname.replace(/\/$/, '');

/** A client-to-server WebSocket frame of `payload`, masked with a zero key (valid,
 * and the payload stays readable in the file). */
function frame(payload) {
  const text = typeof payload === 'string';
  const body = text ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
  const head = [text ? 0x81 : 0x82];
  if (body.length < 126) head.push(0x80 | body.length);
  else if (body.length < 65536) head.push(0x80 | 126, body.length >> 8, body.length & 0xff);
  else {
    head.push(0x80 | 127, 0, 0, 0, 0);
    head.push((body.length >>> 24) & 0xff, (body.length >>> 16) & 0xff, (body.length >>> 8) & 0xff, body.length & 0xff);
  }
  head.push(0, 0, 0, 0);
  return Buffer.concat([Buffer.from(head), body]).toString('hex');
}

/** The most data kept of one VS Code message: the classifier reads the 13-byte
 * headers only, and whole file contents would make the corpus megabytes. */
const KEEP = 32;

/** `payload` with each VS Code protocol message's data cut to KEEP bytes (its length
 * field rewritten), so the messages keep their types and order; a payload that is
 * not VS Code's protocol is cut to 256 bytes. */
function reduce(payload) {
  const buf = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
  const parts = [];
  let at = 0;
  while (at + 13 <= buf.length) {
    const len = buf.readUInt32BE(at + 9);
    if (buf[at] < 1 || buf[at] > 11 || at + 13 + len > buf.length) break;
    const head = Buffer.from(buf.subarray(at, at + 13));
    const kept = Math.min(len, KEEP);
    head.writeUInt32BE(kept, 9);
    parts.push(head, buf.subarray(at + 13, at + 13 + kept));
    at += 13 + len;
  }
  if (at !== buf.length || parts.length === 0) {
    return typeof payload === 'string' ? payload.slice(0, 256) : buf.subarray(0, 256);
  }
  return Buffer.concat(parts);
}

/** The path the launcher sees, or null for another origin's or the proxy's own. */
function launcherPath(url) {
  const u = new URL(url);
  if (!u.pathname.startsWith(`${prefix}/`)) return null;
  return u.pathname.slice(prefix.length) + u.search;
}

await run(async (page) => {
  const started = Date.now();
  const lines = [];
  let last = -1;
  const at = () => {
    const ms = Date.now() - started;
    if (ms !== last) lines.push(`at ${ms}`);
    last = ms;
  };
  let sockets = 0;
  page.on('websocket', (ws) => {
    const path = launcherPath(ws.url());
    if (path === null) return;
    sockets += 1;
    const n = sockets;
    at();
    lines.push(`open ${n}`, `http GET ${path} upgrade`);
    ws.on('framesent', ({ payload }) => {
      at();
      lines.push(`ws:${n} ${frame(reduce(payload))}`);
    });
  });
  page.context().on('requestfinished', async (req) => {
    const path = launcherPath(req.url());
    if (path === null) return;
    const resp = await req.response().catch(() => null);
    if (resp?.fromServiceWorker()) return;
    at();
    if (req.method() === 'POST' && path.split('?')[0] === '/_dcs/activity') {
      const kind = JSON.parse(req.postData() ?? '{}').kind ?? '?';
      lines.push(`beacon ${kind}`);
      return;
    }
    const headers = await req.allHeaders();
    const background = headers['x-dcs-background'] === '1' ? ' background' : '';
    lines.push(`http ${req.method()} ${path}${background}`);
  });

  const editor = await openFile(page, input.url, input.file, LONG);
  emit('loaded', { at: Date.now() - started });
  lines.push(`# loaded: the workbench shows ${input.file}`);

  if (input.mode === 'typing') {
    await editor.click({ timeout: LONG });
    const end = Date.now() + input.idle_ms;
    let i = 0;
    while (Date.now() < end) {
      await page.keyboard.type(input.text[i % input.text.length]);
      i += 1;
      await page.waitForTimeout(300);
    }
  } else {
    // Nobody touches the tab; the pointer rests outside the window.
    await page.mouse.move(-1, -1).catch(() => {});
    await page.waitForTimeout(input.idle_ms);
  }
  at();
  lines.push('# end');
  writeFileSync(input.out, `${lines.join('\n')}\n`);
  emit('recorded', { lines: lines.length });
});
