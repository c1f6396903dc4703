// npm run bench -- --only peer: termlab beside WeTTY (the npm package `wetty`, a widely used
// xterm.js web terminal), in the same run, on the same box image, in the same Chromium.
// The WeTTY box is made by termlab's own driver (same image, limits, network and `docker exec`
// argv as a lab's box), and WeTTY's --command is a script that runs that argv, so both servers
// put a node-pty on the same kind of `docker exec -it ... bash -l`. Both servers run in processes
// of their own (termlab's as `npm start` runs it), so neither shares its event loop with the
// driver, and the timed pages are driven over the bare DevTools protocol (bare-chromium.ts), so
// Chromium does not copy their WebSocket traffic to the driver. Everything timed is timed in the
// page, on the page's own xterm.js Terminal: `input()` as if typed, until the answer is parsed.
// Prints figures; asserts nothing.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pty from 'node-pty';
import WebSocket from 'ws';
import type { Config } from '../server/config.js';
import type { LabServer } from '../server/lab-server.js';
import type { BoxHandle } from '../server/sandbox/sandbox-driver.js';
import { ensureWebBuilt } from '../test/helpers/browser.js';
import { percentile } from '../test/helpers/echo.js';
import { testInstance, until } from '../test/helpers/lab-server.js';
import { BareChromium, type BarePage } from './bare-chromium.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const WETTY_MAIN = path.join(ROOT, 'node_modules', 'wetty', 'build', 'main.js');
/** OSC number of the throughput markers (the box's bashrc uses 6973 for its prompt marker). */
const MARK_OSC = 6974;
/** The echo's keys are typed in this many rounds, the sides taking turns (see benchPeer). */
const ECHO_ROUNDS = 3;
/** Echoes slower than this (issue 10's p99 target) are counted apart, with what the page was doing meanwhile. */
const SLOW_ECHO_MS = 5;

type Side = 'termlab' | 'wetty';

// ---- in the page ----
// The functions below run in the page (page.evaluate): they may use only their argument and the
// page's globals, and declare no local arrow functions (tsx's esbuild would wrap those in a
// __name() helper the page does not have). Types of what they see, as scripts/ compiles without the DOM lib:

interface PageCell { getChars(): string }
interface PageLine { translateToString(trimRight?: boolean): string; getCell(x: number): PageCell | undefined }
interface PageTerm {
  cols: number;
  rows: number;
  buffer: { active: { baseY: number; cursorX: number; cursorY: number; getLine(i: number): PageLine | undefined } };
  input(data: string, wasUserInput?: boolean): void;
  resize(cols: number, rows: number): void;
  write(data: string | Uint8Array, callback?: () => void): void;
  onWriteParsed(listener: () => void): { dispose(): void };
  onRender(listener: () => void): { dispose(): void };
  parser: { registerOscHandler(id: number, handler: (data: string) => boolean): { dispose(): void } };
}
/** Installed in each page by installHarness. */
interface Harness {
  term: PageTerm;
  /** performance.now() at the end of the first parse after which `test` holds (now if it already does). */
  when(test: () => boolean, ms: number, what: string): Promise<number>;
  /** performance.now() when the parser reached OSC 6974;NAME. */
  marks: Record<string, number>;
  /**
   * The page's frames that drew terminal rows, as [start, end] in performance.now(): from xterm.js
   * drawing its rows (term.onRender, in the frame's animation callbacks) to the first task after the
   * frame (its style, layout, paint and commit run between, in the same task; end is NaN until then).
   */
  frames: Array<[number, number]>;
  /**
   * Output that reached the page: termlab's connection's offset (its page may skip plain lines that
   * scroll out unseen before writing, protocol/fast-forward.ts); for WeTTY, bytes (or UTF-16 units,
   * for string writes) its code handed to term.write.
   */
  received: number;
  /** Calls to term.write by the page's own code. */
  writes: number;
  /** The last `n` rows up to the cursor's, trimmed on the right, oldest first. */
  tail(n: number): string[];
}
interface PeerGlobals {
  __termlab?: { term: PageTerm; connection: { outputOffset: number; status: { state: string } } };
  wetty_term?: PageTerm;
  __peer: Harness;
  document: { querySelector(sel: string): unknown };
}

/** In the page: wraps the side's Terminal (termlab: its test hook; WeTTY: the global its client sets). */
function installHarness({ side, osc }: { side: Side; osc: number }): { cols: number; rows: number; canvas: boolean } {
  const g = globalThis as unknown as PeerGlobals;
  const term = side === 'termlab' ? g.__termlab!.term : g.wetty_term!;
  const h: Harness = {
    term,
    marks: {},
    frames: [],
    received: 0,
    writes: 0,
    when(test, ms, what) {
      return new Promise((resolve, reject) => {
        if (test()) { resolve(performance.now()); return; }
        // onWriteParsed fires at the end of each parser pass (xterm.js' write buffer), not per frame.
        const sub = term.onWriteParsed(() => {
          if (!test()) return;
          const at = performance.now();
          clearTimeout(timer);
          sub.dispose();
          resolve(at);
        });
        const timer = setTimeout(() => { sub.dispose(); reject(new Error(`timed out after ${ms} ms waiting for ${what}\n${h.tail(8).join('\n')}`)); }, ms);
      });
    },
    tail(n) {
      const b = term.buffer.active;
      const end = b.baseY + b.cursorY;
      const out: string[] = [];
      for (let i = Math.max(0, end - n + 1); i <= end; i++) out.push(b.getLine(i)?.translateToString(true) ?? '');
      return out;
    },
  };
  term.parser.registerOscHandler(osc, (data) => { h.marks[data] = performance.now(); return true; });
  const afterFrame = new MessageChannel();
  afterFrame.port1.onmessage = () => { const last = h.frames[h.frames.length - 1]; if (last) last[1] = performance.now(); };
  term.onRender(() => {
    h.frames.push([performance.now(), NaN]);
    afterFrame.port2.postMessage(0);
  });
  // Counts what the page's own client writes (both call term.write on the instance for each chunk),
  // and what has arrived, so the flood below can wait for "this much has arrived" instead of sleeping.
  const write = term.write.bind(term);
  let written = 0;
  term.write = (data, cb) => { written += data.length; h.writes++; write(data, cb); };
  const connection = side === 'termlab' ? g.__termlab!.connection : undefined;
  Object.defineProperty(h, 'received', { get() { return connection ? connection.outputOffset : written; } });
  g.__peer = h;
  // WeTTY loads xterm's WebGL addon and falls back to the DOM renderer without WebGL; termlab uses the DOM renderer.
  return { cols: term.cols, rows: term.rows, canvas: side === 'wetty' && g.document.querySelector('#terminal canvas') !== null };
}

/** In the page: runs `cat >/dev/null` (the tty echoes what is typed; nothing else prints). */
async function pageIntoCat(tag: string): Promise<void> {
  const h = (globalThis as unknown as PeerGlobals).__peer;
  // The command line shows the tag quoted; only the shell's output is the bare tag.
  h.term.input(`echo ${tag.replace('-', "''-")}; cat >/dev/null\r`, true);
  await h.when(() => h.tail(4).includes(tag) && h.term.buffer.active.cursorX === 0, 20_000, 'cat');
}

/** In the page: back to the shell's prompt (^C). */
async function pageToPrompt(): Promise<void> {
  const h = (globalThis as unknown as PeerGlobals).__peer;
  h.term.input('\x03', true);
  await h.when(() => h.tail(1)[0]?.trimEnd() === 'root@lab:~#', 20_000, 'the prompt');
}

/**
 * One key's echo: how long it took (ms), and whether a frame of the page (drawing the last key's
 * echo, as a rule) was in progress meanwhile: its main thread then lays out and paints, and an echo
 * that arrives waits.
 */
interface EchoKey { ms: number; drawing: boolean }

/** In the page, in `cat`: each key typed, until its echo is parsed. Consecutive keys differ. */
async function pageEcho({ keys, gapMs }: { keys: number; gapMs: number }): Promise<EchoKey[]> {
  const h = (globalThis as unknown as PeerGlobals).__peer;
  const b = h.term.buffer;
  const times: EchoKey[] = [];
  for (let i = 0; i < keys; i++) {
    const ch = String.fromCharCode(97 + (i % 26));
    const t0 = performance.now();
    h.term.input(ch, true);
    // The echoed glyph is the cell just before the cursor (also at a pending wrap, where cursorX == cols).
    const t1 = await h.when(() => b.active.cursorX > 0 && b.active.getLine(b.active.baseY + b.active.cursorY)?.getCell(b.active.cursorX - 1)?.getChars() === ch, 10_000, `the echo of key ${i}`);
    // A frame that began before the echo was parsed and had not ended before the key (NaN: still going).
    times.push({ ms: t1 - t0, drawing: h.frames.some(([start, end]) => start < t1 && !(end < t0)) });
    // A short pause between keys, as a fast typist's: the next key does not ride on the last echo's task.
    await new Promise((r) => setTimeout(r, gapMs));
  }
  return times;
}

/**
 * In the page: the shell writes `mib` MiB of "a" in 100-column lines between two OSC marks (seconds).
 * (The `echo` ends fold's last, partial line, so the prompt starts a line of its own.)
 */
async function pageThroughput({ mib, osc }: { mib: number; osc: number }): Promise<{ seconds: number; writes: number }> {
  const h = (globalThis as unknown as PeerGlobals).__peer;
  h.marks = {};
  const writes = h.writes;
  h.term.input(`printf '\\e]${osc};s\\a'; head -c ${mib}M /dev/zero | tr '\\0' a | fold -w 100; echo; printf '\\e]${osc};e\\a'\r`, true);
  await h.when(() => h.marks.e !== undefined, 600_000, 'the end mark');
  const seconds = (h.marks.e! - h.marks.s!) / 1000;
  await h.when(() => h.tail(1)[0]?.trimEnd() === 'root@lab:~#', 20_000, 'the prompt');
  return { seconds, writes: h.writes - writes };
}

/**
 * In the page: the same Terminal fed the same bytes locally (100 "a" and CR LF a line, as the tty
 * sends them), ~64 KiB a write, the next write once the last one's callback ran (seconds). `form`:
 * as a Uint8Array (what termlab's client writes) or a string (what WeTTY's socket.io client writes).
 */
async function pageCeiling({ mib, form }: { mib: number; form: 'bytes' | 'string' }): Promise<number> {
  const h = (globalThis as unknown as PeerGlobals).__peer;
  const line = `${'a'.repeat(100)}\r\n`;
  const perChunk = 640;
  const text = line.repeat(perChunk);
  const chunk: string | Uint8Array = form === 'bytes' ? new TextEncoder().encode(text) : text;
  const lines = Math.ceil((mib * 1024 * 1024) / 100);
  const t0 = performance.now();
  for (let done = 0; done < lines; done += perChunk) {
    const n = Math.min(perChunk, lines - done);
    await new Promise<void>((resolve) => h.term.write(n === perChunk ? chunk : chunk.slice(0, n * line.length), resolve));
  }
  return (performance.now() - t0) / 1000;
}

/**
 * In the page: `yes` floods the page; once `floodBytes` of it arrived, ^C and at once a command
 * printing a unique marker, typed key by key. Time from ^C to the marker's line being parsed,
 * and whether the command line shows every key typed. -1 when the marker never came.
 */
async function pageInterrupt({ n, floodBytes }: { n: number; floodBytes: number }): Promise<{ ms: number; intact: boolean; drained: number }> {
  const h = (globalThis as unknown as PeerGlobals).__peer;
  const command = `echo M$((7000+${n}))K`;
  const marker = `M${7000 + n}K`;
  h.term.input('yes\r', true);
  const start = h.received;
  await h.when(() => h.received - start >= floodBytes, 60_000, 'the flood');
  const t0 = performance.now();
  const at = h.received;
  h.term.input('\x03', true);
  for (const ch of `${command}\r`) h.term.input(ch, true);
  let t1: number;
  try {
    t1 = await h.when(() => h.tail(6).includes(marker), 30_000, 'the marker');
  } catch {
    // Lost: stop whatever runs and get the prompt back for the next try.
    h.term.input('\x03', true);
    await h.when(() => h.tail(1)[0]?.trimEnd() === 'root@lab:~#', 20_000, 'the prompt');
    return { ms: -1, intact: false, drained: h.received - at };
  }
  // The keys reached the shell whole: its command line (readline's, or the tty's echo of the
  // typeahead) holds the full command.
  const intact = h.tail(h.term.rows + 4).some((l) => l.endsWith(command));
  await h.when(() => h.tail(1)[0]?.trimEnd() === 'root@lab:~#', 20_000, 'the prompt');
  return { ms: t1 - t0, intact, drained: h.received - at };
}

/**
 * The floor under both pages' echo: a node-pty on the same `docker exec -it` into the same box,
 * typed into and read here, with no browser, WebSocket or server between. Each key until its echo
 * is read, with the pages' gap between keys (ms).
 */
async function ptyEcho(argv: string[], keys: number, gapMs: number): Promise<number[]> {
  const term = pty.spawn(argv[0]!, argv.slice(1), { cols: 111, rows: 39, name: 'xterm-256color' });
  let seen = '';
  let waiter: (() => void) | undefined;
  // The prompt is coloured: what is matched below is the text, escape sequences left out.
  term.onData((d) => { seen += d.replace(/\x1b\[[0-9;?]*[a-zA-Z]/g, ''); waiter?.(); });
  const waitFor = (test: () => boolean, what: string) => new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the pty floor: no ${what} in 20 s:\n${seen.slice(-500)}`)), 20_000);
    const check = () => { if (test()) { clearTimeout(timer); waiter = undefined; resolve(); } };
    waiter = check;
    check();
  });
  try {
    await waitFor(() => seen.includes('root@lab:~#'), 'prompt');
    // As in the pages: the command line shows the tag quoted; only cat's start prints it bare.
    term.write("echo pty''-floor; cat >/dev/null\r");
    await waitFor(() => /[\r\n]pty-floor\r\n$/.test(seen), 'cat');
    const times: number[] = [];
    for (let i = 0; i < keys; i++) {
      const ch = String.fromCharCode(97 + (i % 26));
      seen = '';
      const t0 = performance.now();
      term.write(ch);
      await waitFor(() => seen.includes(ch), `echo of key ${i}`);
      times.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, gapMs));
    }
    return times;
  } finally {
    term.kill();
  }
}

// ---- the two servers ----

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** A server in a process of its own: its page URL, and a full GC through its inspector. */
interface ChildServer {
  url: string;
  proc: ChildProcess;
  /** A full garbage collection in the server's process (HeapProfiler.collectGarbage), so RSS is read after one. */
  gc(): Promise<void>;
  stop(): Promise<void>;
}

/** Sends one inspector command to a node process and waits for its answer. */
async function inspect(wsUrl: string, method: string): Promise<void> {
  const ws = new WebSocket(wsUrl);
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  await new Promise<void>((resolve, reject) => {
    ws.on('message', (data) => { if ((JSON.parse(data.toString()) as { id?: number }).id === 1) resolve(); });
    ws.once('error', reject);
    ws.send(JSON.stringify({ id: 1, method }));
  });
  ws.close();
}

/**
 * Runs `node --inspect=127.0.0.1:0 ARGS` (no inspector session is attached until gc() asks);
 * `ready` is probed with what the process printed so far until it gives the page's URL.
 */
async function spawnServer(name: string, args: string[], env: NodeJS.ProcessEnv, ready: (log: string) => Promise<string | undefined>, stopMs: number): Promise<ChildServer> {
  const proc = spawn(process.execPath, ['--inspect=127.0.0.1:0', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout!.on('data', (d: Buffer) => { log = (log + d.toString()).slice(-8000); });
  proc.stderr!.on('data', (d: Buffer) => { log = (log + d.toString()).slice(-8000); });
  let inspector = '';
  let url: string | undefined;
  try {
    await until(`${name} to be ready`, async () => {
      if (proc.exitCode !== null) throw new Error(`${name} exited (${proc.exitCode}):\n${log}`);
      inspector ||= /Debugger listening on (ws:\S+)/.exec(log)?.[1] ?? '';
      url ??= await ready(log);
      return inspector && url;
    }, 120_000, 100);
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  return {
    url: url!,
    proc,
    gc: () => inspect(inspector, 'HeapProfiler.collectGarbage'),
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, stopMs))]);
      if (proc.exitCode === null) proc.kill('SIGKILL');
    },
  };
}

/** WeTTY on 127.0.0.1 whose every terminal runs `argv` (termlab's `docker exec -it` into the box). */
async function startWetty(argv: string[], dir: string): Promise<ChildServer> {
  const script = path.join(dir, 'box-shell.sh');
  const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
  fs.writeFileSync(script, `#!/bin/sh\nexec ${argv.map(quote).join(' ')}\n`, { mode: 0o755 });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/wetty/`;
  // As root with the default ssh host (localhost), WeTTY runs --command itself (no ssh, no login).
  // Its bin run with this node (what `npx wetty` runs), so the pid measured is the server's own.
  return spawnServer('WeTTY', [WETTY_MAIN, '--host', '127.0.0.1', '--port', String(port), '--base', '/wetty/', '--command', script, '--log-level', 'warn'],
    process.env, async () => ((await fetch(url).catch(() => undefined))?.ok ? url : undefined), 5000);
}

/**
 * termlab's server in a process of its own (scripts/bench-peer-server.ts: what `npm start` runs), as
 * WeTTY's is: in this process its event loop would share the driver's work, and its RSS the driver's memory.
 */
async function startTermlabChild(webDir: string): Promise<ChildServer> {
  const env = { ...process.env, TERMLAB_INSTANCE: testInstance(), PEER_WEB_DIR: webDir };
  // Stopping removes its boxes (SIGTERM: server.stop()), which takes a few seconds.
  return spawnServer('termlab', ['--import', 'tsx', path.join(ROOT, 'scripts', 'bench-peer-server.ts')], env,
    async (log) => /ready: open (http:\S+)/.exec(log)?.[1], 60_000);
}

/**
 * A copy of dist/web for this run's servers: others working in this checkout rebuild dist/web
 * (new chunk names) while the bench runs, and a page would then load chunks that are gone.
 */
function snapshotWeb(dir: string): string {
  const to = path.join(dir, 'web');
  for (let attempt = 0; ; attempt++) {
    ensureWebBuilt();
    fs.rmSync(to, { recursive: true, force: true });
    fs.cpSync(path.join(ROOT, 'dist', 'web'), to, { recursive: true });
    // Whole: every chunk that a script or index.html names is in the copy.
    const named = new Set<string>();
    for (const f of [...fs.readdirSync(to).map((n) => path.join(to, n)), ...fs.readdirSync(path.join(to, 'chunks')).map((n) => path.join(to, 'chunks', n))]) {
      if (!/\.(js|html)$/.test(f)) continue;
      for (const m of fs.readFileSync(f, 'utf8').matchAll(/chunk-[A-Z0-9]+\.js/g)) named.add(m[0]);
    }
    if ([...named].every((n) => fs.existsSync(path.join(to, 'chunks', n)))) return to;
    if (attempt === 5) throw new Error('dist/web keeps changing: no whole copy of it');
  }
}

/** User and system CPU time of a process so far (seconds; /proc/PID/stat counts clock ticks, 100 a second here). */
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function rssOf(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
}

/**
 * A page in a browser context of its own (its own cookies: a termlab learner may hold only a few
 * labs), made ready by `ready`. Chromium aborts page loads in flight with ERR_NETWORK_CHANGED
 * whenever a network interface comes or goes, and every box's session network is a new bridge
 * (this run's or anyone's on this machine): a page that does not get ready is opened again.
 */
async function openPage(browser: BareChromium, url: string, viewport: { width: number; height: number }, what: string,
  ready: (page: BarePage) => Promise<void>, init?: string): Promise<BarePage> {
  for (let attempt = 1; ; attempt++) {
    let page: BarePage | undefined;
    try {
      page = await browser.open(url, viewport, init);
      await ready(page);
      return page;
    } catch (err) {
      const shot = path.join(os.tmpdir(), `termlab-peer-failed-${Date.now()}.png`);
      await page?.screenshot(shot).catch(() => {});
      await page?.close();
      if (attempt < 3) continue;
      throw new Error(`${what}: ${(err as Error).message}\n(the page then: ${shot})`);
    }
  }
}

/**
 * WeTTY loads xterm.js' WebGL addon, which in headless Chromium without a GPU runs on software GL
 * and draws ~10x slower than the DOM renderer (0.4 against 3-6 MiB/s fed locally, measured here);
 * a learner's browser would have a GPU. Refusing WebGL2 makes the addon fail to load, and WeTTY
 * falls back (its own try/catch) to the DOM renderer, the one termlab's page uses.
 */
const NO_WEBGL2 = `{ const get = HTMLCanvasElement.prototype.getContext;
  HTMLCanvasElement.prototype.getContext = function (type, ...rest) { return type === 'webgl2' ? null : get.call(this, type, ...rest); }; }`;

/** In the page: the terminal's current line is the bare prompt (WeTTY's or termlab's terminal). */
function pageAtPrompt(side: Side): boolean {
  const g = globalThis as unknown as PeerGlobals;
  const t = side === 'termlab' ? g.__termlab?.term : g.wetty_term;
  if (!t || (side === 'termlab' && g.__termlab!.connection.status.state !== 'connected')) return false;
  const b = t.buffer.active;
  return b.getLine(b.baseY + b.cursorY)?.translateToString(true).trimEnd() === 'root@lab:~#';
}

/** In termlab's page: ends its lab (the End button's request), so the server removes the box. */
async function pageEndLab(): Promise<number> {
  const stored = JSON.parse((globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } }).sessionStorage.getItem('termlab.session') ?? 'null') as { id: string; token: string } | null;
  if (!stored) return 0;
  const res = await fetch(`/api/sessions/${encodeURIComponent(stored.id)}`, { method: 'DELETE', headers: { Authorization: `Bearer ${stored.token}` } });
  return res.status;
}

async function openWetty(browser: BareChromium, url: string, viewport: { width: number; height: number }): Promise<BarePage> {
  // The client sets window.wetty_term once its socket connects; then the shell's first prompt.
  return openPage(browser, url, viewport, 'WeTTY\'s page', (page) => page.waitFor(pageAtPrompt, 'wetty' as Side, 60_000, 'WeTTY\'s prompt'), NO_WEBGL2);
}

async function openTermlab(browser: BareChromium, url: string, viewport: { width: number; height: number }): Promise<BarePage> {
  // Started by its `?start=` link, not a click: a click leaves the mouse over the terminal, and
  // Chromium then hit-tests under it after every frame (66-109 ms of a flood) where WeTTY's page,
  // never touched by a mouse, does not.
  return openPage(browser, `${url}/?start=hello`, viewport, 'termlab\'s hello lab', (page) => page.waitFor(pageAtPrompt, 'termlab' as Side, 120_000, 'termlab\'s prompt'));
}

/** Busy CPU time of the whole machine so far (seconds, from /proc/stat: 100 ticks a second here). */
function machineCpu(): { busy: number } {
  const ticks = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: all but idle and iowait.
  const busy = ticks.slice(0, 8).reduce((a, b) => a + b, 0) - ticks[3]! - ticks[4]!;
  return { busy: busy / 100 };
}

// ---- the part ----

export interface PeerOptions {
  server(overrides: Partial<Config>): Promise<LabServer>;
  quick: boolean;
}

export async function benchPeer({ server, quick }: PeerOptions): Promise<void> {
  const keys = quick ? 100 : 300;
  const mib = quick ? 4 : 16;
  const tries = quick ? 4 : 10;
  const terminals = Number(process.env.PEER_TERMINALS) || (quick ? 4 : 10);
  const floodBytes = 1024 * 1024;
  // Wide enough that both terminals have more than 100 columns (termlab's page shows the guide beside it).
  const viewport = { width: 1600, height: 900 };

  const wettyVersion = (JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', 'wetty', 'package.json'), 'utf8')) as { version: string }).version;
  const began = performance.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'termlab-peer-'));
  const webDir = snapshotWeb(dir);
  // This process's server only makes WeTTY's box (termlab's driver: the same image, limits and
  // network as a lab's); the learner's termlab is a server of its own (startTermlabChild).
  const srv = await server({ maxSessions: 5, webDir });
  let box: BoxHandle | undefined;
  let wetty: ChildServer | undefined;
  let termlab: ChildServer | undefined;
  let browser: BareChromium | undefined;
  const open: BarePage[] = [];
  try {
    box = await srv.driver.create({ session: `peer-${Math.random().toString(36).slice(2, 8)}`, profile: 'shell', hostname: 'lab', internet: false });
    [wetty, termlab] = await Promise.all([startWetty(srv.driver.shellArgv(box), dir), startTermlabChild(webDir)]);
    browser = await BareChromium.launch();
    const image = srv.driver.images.shell;
    const servers: Record<Side, ChildServer> = { termlab, wetty };

    const pages = {} as Record<Side, BarePage>;
    const shape = {} as Record<Side, { cols: number; rows: number; canvas: boolean }>;
    for (const side of ['termlab', 'wetty'] as const) {
      const page = side === 'termlab' ? await openTermlab(browser, termlab.url, viewport) : await openWetty(browser, wetty.url, viewport);
      open.push(page);
      pages[side] = page;
      shape[side] = await page.evaluate(installHarness, { side, osc: MARK_OSC });
    }
    // The same geometry on both sides (drawing cost grows with the screen's cells): WeTTY's terminal
    // is resized to termlab's; its client tells its server (term.onResize), which resizes the pty.
    shape.wetty = await pages.wetty.evaluate(({ cols, rows }) => {
      const h = (globalThis as unknown as PeerGlobals).__peer;
      h.term.resize(cols, rows);
      return { cols: h.term.cols, rows: h.term.rows, canvas: (globalThis as unknown as PeerGlobals).document.querySelector('#terminal canvas') !== null };
    }, shape.termlab);
    await pages.wetty.evaluate(async () => {
      const h = (globalThis as unknown as PeerGlobals).__peer;
      // The shell hears the new size: `stty size` prints it.
      h.term.input('stty size\r', true);
      await h.when(() => h.tail(3).includes(`${h.term.rows} ${h.term.cols}`), 20_000, 'the new size');
    });
    const sides = ['termlab', 'wetty'] as const;
    const each = async <T>(fn: (page: BarePage, side: Side) => Promise<T>): Promise<Record<Side, T>> => {
      const out = {} as Record<Side, T>;
      for (const side of sides) out[side] = await fn(pages[side], side);
      return out;
    };

    // 1. Keystroke echo, into `cat`: termlab's page, WeTTY's and the floor in turn, ECHO_ROUNDS
    // times, so that a passing burst of other work on the machine falls on one round of one side
    // rather than on one side's whole sample. With how busy the whole machine was meanwhile: on two
    // cores every process's wake-up is a hop of the echo's path, and what else runs is what its
    // tail waits for.
    // And how long each page's main thread was busy per key, and which keys waited on its frames.
    const echo: Record<Side | 'floor', EchoKey[]> = { termlab: [], wetty: [], floor: [] };
    const echoCpu: Record<Side | 'floor', { busy: number; seconds: number }> = {
      termlab: { busy: 0, seconds: 0 }, wetty: { busy: 0, seconds: 0 }, floor: { busy: 0, seconds: 0 },
    };
    const echoPage: Record<Side, { busy: number; script: number }> = { termlab: { busy: 0, script: 0 }, wetty: { busy: 0, script: 0 } };
    const timedEcho = async (side: Side | 'floor', run: () => Promise<EchoKey[]>): Promise<void> => {
      const [m0, t0] = [machineCpu(), performance.now()];
      echo[side].push(...await run());
      echoCpu[side].busy += machineCpu().busy - m0.busy;
      echoCpu[side].seconds += (performance.now() - t0) / 1000;
    };
    for (let round = 0; round < ECHO_ROUNDS; round++) {
      const perRound = Math.ceil(keys / ECHO_ROUNDS);
      for (const side of sides) {
        await pages[side].evaluate(pageIntoCat, `cat-${Math.random().toString(36).slice(2, 10)}`);
        const before = await pages[side].mainThread();
        await timedEcho(side, () => pages[side].evaluate(pageEcho, { keys: perRound, gapMs: 5 }));
        const after = await pages[side].mainThread();
        echoPage[side].busy += after.busy - before.busy;
        echoPage[side].script += after.script - before.script;
        await pages[side].evaluate(pageToPrompt);
      }
      await timedEcho('floor', async () => (await ptyEcho(srv.driver.shellArgv(box!), perRound, 5)).map((ms) => ({ ms, drawing: false })));
    }
    const echoLoad = (side: Side | 'floor') => echoCpu[side].busy / (os.cpus().length * echoCpu[side].seconds);
    // 2. Output throughput, then the same page's local ceiling (after, so the flood's own work is done).
    // With the CPU time the server's process spent meanwhile, and the whole machine's: on two cores
    // shared by the page, the browser's other processes, the server and the `docker exec` chain,
    // CPU spent anywhere is CPU the page waits for. And how long the page's main thread was busy
    // (Chromium's TaskDuration): a page busy for a small part of the run spent the rest waiting.
    const serverCpu = {} as Record<Side, number>;
    const machineBusy = {} as Record<Side, number>;
    const pageBusy = {} as Record<Side, number>;
    /** Of that: script, layout and style recalculation (the rest: painting, the renderer's own work). */
    const pageParts = {} as Record<Side, number[]>;
    const pageWrites = {} as Record<Side, number>;
    const seconds = await each(async (page, side) => {
      const pid = servers[side].proc.pid!;
      // PEER_PROFILE=DIR: the page's CPU profile during the flood goes to DIR/<side>.cpuprofile.
      const profileDir = process.env.PEER_PROFILE;
      if (profileDir) { await page.send('Profiler.enable'); await page.send('Profiler.start'); }
      const [cpu0, busy0, machine0] = [cpuSeconds(pid), await page.mainThread(), machineCpu()];
      const t = await page.evaluate(pageThroughput, { mib, osc: MARK_OSC });
      const [machine1, busy1] = [machineCpu(), await page.mainThread()];
      [serverCpu[side], pageBusy[side], machineBusy[side]] = [cpuSeconds(pid) - cpu0, busy1.busy - busy0.busy, machine1.busy - machine0.busy];
      pageParts[side] = [busy1.script - busy0.script, busy1.layout - busy0.layout, busy1.style - busy0.style];
      if (profileDir) fs.writeFileSync(path.join(profileDir, `${side}.cpuprofile`), JSON.stringify((await page.send<{ profile: unknown }>('Profiler.stop')).profile));
      pageWrites[side] = t.writes;
      return t.seconds;
    });
    const ceiling = await each((page) => page.evaluate(pageCeiling, { mib, form: 'bytes' as const }));
    const ceilingText = await each((page) => page.evaluate(pageCeiling, { mib, form: 'string' as const }));
    // 3. Ctrl-C during a flood, alternating sides try by try.
    const interrupts: Record<Side, Array<{ ms: number; intact: boolean; drained: number }>> = { termlab: [], wetty: [] };
    for (let n = 0; n < tries; n++) {
      for (const side of sides) interrupts[side].push(await pages[side].evaluate(pageInterrupt, { n, floodBytes }));
    }
    await pages.termlab.evaluate(pageEndLab);
    for (const page of open.splice(0)) await page.close();

    // 4. Server memory per connected terminal: RSS of the server's process with N pages connected
    // against none, each read after a full GC.
    // PEER_NO_MEMORY=1 leaves it out (two minutes of the run), for quick comparisons of the rest.
    const memoryBegan = performance.now();
    const memory = {} as Record<Side, number>;
    const measureMemory = !process.env.PEER_NO_MEMORY;
    if (measureMemory) for (const side of sides) {
      const target = servers[side];
      const openOne = () => (side === 'termlab' ? openTermlab(browser!, termlab!.url, viewport) : openWetty(browser!, wetty!.url, viewport));
      // Warmed by N pages first (opened, then closed and their labs ended), so the allocator has
      // reached the high-water mark N terminals need and "before" is not inflated by first-use costs.
      const warm: BarePage[] = [];
      for (let i = 0; i < terminals; i++) warm.push(await openOne());
      for (const page of warm) {
        if (side === 'termlab') await page.evaluate(pageEndLab);
        await page.close();
      }
      // termlab: the server's own count of live sessions (its /metrics answers loopback requests).
      if (side === 'termlab') {
        await until('the warm-up labs to end', async () => /^termlab_sessions 0$/m.test(await (await fetch(`${target.url}/metrics`)).text()), 60_000, 200);
      }
      await target.gc();
      const before = rssOf(target.proc.pid!);
      const opened: BarePage[] = [];
      for (let i = 0; i < terminals; i++) opened.push(await openOne());
      await target.gc();
      memory[side] = (rssOf(target.proc.pid!) - before) / terminals;
      for (const page of opened) await page.close();
    }

    // ---- the table ----
    const fmtMs = (v: number) => `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ms`;
    const rate = (s: number) => mib / s;
    const ok = (side: Side) => interrupts[side].filter((r) => r.ms >= 0).map((r) => r.ms);
    const lost = (side: Side) => interrupts[side].filter((r) => !r.intact).length;
    const ratio = (t: number, w: number, better: 'lower' | 'higher') => `${(t / w).toFixed(2)}x (${better} is better)`;
    const rows: Array<[string, string, string, string]> = [];
    const row = (label: string, t: string, w: string, r = '') => rows.push([label, t, w, r]);
    const echoMs = (side: Side | 'floor') => echo[side].map((k) => k.ms);
    for (const p of [50, 99]) {
      const [t, w] = [percentile(echoMs('termlab'), p), percentile(echoMs('wetty'), p)];
      row(`keystroke echo in the page, p${p} (${echo.termlab.length} keys, ${ECHO_ROUNDS} rounds)`, fmtMs(t), fmtMs(w), ratio(t, w, 'lower'));
    }
    const pct = (v: number) => `${Math.round(100 * v)}%`;
    row(`  whole machine busy meanwhile (of ${os.cpus().length} cores)`, pct(echoLoad('termlab')), pct(echoLoad('wetty')));
    const perKey = (side: Side) => `${fmtMs((1000 * echoPage[side].busy) / echo[side].length)} (script ${fmtMs((1000 * echoPage[side].script) / echo[side].length)})`;
    row('  page main thread busy per key (of it, script)', perKey('termlab'), perKey('wetty'));
    const drawing = (keys: EchoKey[]) => (keys.length ? pct(keys.filter((k) => k.drawing).length / keys.length) : '-');
    const slow = (side: Side) => {
      const over = echo[side].filter((k) => k.ms > SLOW_ECHO_MS);
      return `${over.length}: ${drawing(over)} (others ${drawing(echo[side].filter((k) => k.ms <= SLOW_ECHO_MS))})`;
    };
    row(`  keys over ${SLOW_ECHO_MS} ms: how many waited on a frame of the page`, slow('termlab'), slow('wetty'));
    row('  floor: node-pty into the same docker exec, no browser, p50 / p99', `${fmtMs(percentile(echoMs('floor'), 50))} / ${fmtMs(percentile(echoMs('floor'), 99))}`,
      `(the same for both; machine busy ${pct(echoLoad('floor'))})`);
    row(`output into the page, ${mib} MiB`, `${rate(seconds.termlab).toFixed(2)} MiB/s`, `${rate(seconds.wetty).toFixed(2)} MiB/s`, ratio(rate(seconds.termlab), rate(seconds.wetty), 'higher'));
    row('  in-page xterm.js ceiling, fed as bytes (termlab\'s form)', `${rate(ceiling.termlab).toFixed(2)} MiB/s`, `${rate(ceiling.wetty).toFixed(2)} MiB/s`);
    row('  in-page xterm.js ceiling, fed as a string (WeTTY\'s form)', `${rate(ceilingText.termlab).toFixed(2)} MiB/s`, `${rate(ceilingText.wetty).toFixed(2)} MiB/s`);
    const perWrite = (side: Side) => `${pageWrites[side]} (${((mib * 1024) / pageWrites[side]).toFixed(1)} KiB each)`;
    row('  messages written into the page\'s xterm.js', perWrite('termlab'), perWrite('wetty'));
    const busyShare = (side: Side) => `${pageBusy[side].toFixed(1)} s (${Math.round((100 * pageBusy[side]) / seconds[side])}% of the run)`;
    row('  page main thread busy meanwhile', busyShare('termlab'), busyShare('wetty'));
    const parts = (side: Side) => pageParts[side]!.map((v, i) => `${['script', 'layout', 'style'][i]} ${v.toFixed(2)}`).join(', ');
    row('    of which (s)', parts('termlab'), parts('wetty'));
    row(`  server process CPU time during those ${mib} MiB`, `${serverCpu.termlab.toFixed(1)} s`, `${serverCpu.wetty.toFixed(1)} s`, ratio(serverCpu.termlab, serverCpu.wetty, 'lower'));
    const machineShare = (side: Side) => `${machineBusy[side].toFixed(1)} s (${Math.round((100 * machineBusy[side]) / (os.cpus().length * seconds[side]))}% of ${os.cpus().length} cores)`;
    row(`  whole machine's CPU time during those ${mib} MiB`, machineShare('termlab'), machineShare('wetty'), ratio(machineBusy.termlab, machineBusy.wetty, 'lower'));
    row('  share of its own form\'s ceiling', `${Math.round((100 * ceiling.termlab) / seconds.termlab)}%`, `${Math.round((100 * ceilingText.wetty) / seconds.wetty)}%`);
    for (const p of [50, 95]) {
      const [t, w] = [percentile(ok('termlab'), p), percentile(ok('wetty'), p)];
      row(`Ctrl-C in a yes flood -> next output, p${p} (${tries} tries)`, fmtMs(t), fmtMs(w), ratio(t, w, 'lower'));
    }
    const drained = (side: Side) => percentile(interrupts[side].map((r) => r.drained), 50) / 2 ** 10;
    row('  output still arriving after the ^C, p50', `${drained('termlab').toFixed(0)} KiB`, `${drained('wetty').toFixed(0)} KiB`);
    row('  tries with a lost keystroke or no output', String(lost('termlab')), String(lost('wetty')));
    if (measureMemory) row(`server memory per connected terminal (RSS, ${terminals} vs 0)`, `${(memory.termlab / 2 ** 20).toFixed(2)} MiB`,
      `${(memory.wetty / 2 ** 20).toFixed(2)} MiB`, ratio(memory.termlab, memory.wetty, 'lower'));
    const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length), ['', 'termlab', `wetty ${wettyVersion}`][i]!.length));
    const line = (r: string[]) => `  ${r.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c)).join('  ')}`.trimEnd();
    console.log(`termlab beside WeTTY ${wettyVersion}, same run, same box image (${image}), same Chromium, viewport ${viewport.width}x${viewport.height}:`);
    console.log(line(['', 'termlab', `wetty ${wettyVersion}`, 'termlab/wetty']));
    for (const r of rows) console.log(line(r));
    console.log(`  (terminals: termlab ${shape.termlab.cols}x${shape.termlab.rows}, WeTTY ${shape.wetty.cols}x${shape.wetty.rows}, xterm.js' DOM renderer in both${shape.wetty.canvas ? ' (but WeTTY drew with WebGL)' : ''};`
      + ` ${((performance.now() - began) / 1000).toFixed(0)} s, of which the memory figures ${((performance.now() - memoryBegan) / 1000).toFixed(0)} s)`);
  } finally {
    for (const page of open) await page.close();
    await browser?.close().catch(() => {});
    await Promise.all([wetty?.stop(), termlab?.stop()]);
    if (box) await srv.driver.destroy(box).catch(() => {});
    await srv.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
