// The terminal panel of the file manager: a WebSocket to ./_dcs/terminal shown in a
// <pre>. Plain JS, no library: escape sequences are dropped, backspace and the usual
// keys (Enter, Tab, arrows, Ctrl+letter) are sent as a terminal would send them.
(() => {
  const pre = document.getElementById('dcs-term');
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  let ws = null;
  const ESC = /\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b\[[0-9;?<>=]*[ -\/]*[@-~]|\x1b[()][A-Za-z0-9]|\x1b[=>78cDEHM]/g;

  function write(bytes) {
    let out = pre.textContent;
    for (const ch of dec.decode(bytes, { stream: true }).replace(ESC, '')) {
      if (ch === '\b') out = out.slice(0, -1);
      else if (ch !== '\r' && ch !== '\x07') out += ch;
    }
    pre.textContent = out.length > 200000 ? out.slice(-150000) : out;
    pre.scrollTop = pre.scrollHeight;
  }

  function send(text) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(enc.encode(text));
  }

  function resize() {
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    const cols = Math.max(20, Math.floor(pre.clientWidth / 8.5));
    ws.send(JSON.stringify({ resize: { cols, rows: 24 } }));
  }

  function connect() {
    const url = new URL('_dcs/terminal', location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => { pre.dataset.state = 'open'; resize(); pre.focus(); };
    ws.onmessage = (e) => write(typeof e.data === 'string' ? enc.encode(e.data) : new Uint8Array(e.data));
    ws.onclose = (e) => {
      pre.dataset.state = 'closed';
      write(enc.encode(`\n[terminal closed: ${e.reason || e.code}]\n`));
    };
  }

  const KEYS = {
    Enter: '\r', Backspace: '\x7f', Tab: '\t', Escape: '\x1b', Delete: '\x1b[3~',
    ArrowUp: '\x1b[A', ArrowDown: '\x1b[B', ArrowRight: '\x1b[C', ArrowLeft: '\x1b[D',
    Home: '\x1b[H', End: '\x1b[F',
  };
  pre.addEventListener('keydown', (e) => {
    let seq = null;
    if (e.ctrlKey && !e.altKey && e.key.length === 1 && /[a-z@\[\]\\^_]/i.test(e.key)) {
      seq = String.fromCharCode(e.key.toUpperCase().charCodeAt(0) & 0x1f);
    } else if (KEYS[e.key]) {
      seq = KEYS[e.key];
    } else if (e.key.length === 1 && !e.ctrlKey && !e.metaKey) {
      seq = e.key;
    }
    if (seq !== null) { send(seq); e.preventDefault(); }
  });
  pre.addEventListener('paste', (e) => { send(e.clipboardData.getData('text')); e.preventDefault(); });
  document.getElementById('dcs-term-reconnect').addEventListener('click', () => {
    if (ws) ws.close();
    pre.textContent = '';
    connect();
  });
  window.addEventListener('resize', resize);
  connect();
})();
