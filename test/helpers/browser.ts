// Debian's Chromium driven by playwright-core, plus helpers for the termlab page (tl-app, tl-terminal).
// The terminal is read through the page's test hook window.__termlab (see web/README.md).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { until } from './lab-server.js';

/**
 * What the page callbacks below use, typed here because the tests compile without the DOM lib.
 * Mirrors web/terminal/terminal-controller.ts (TermlabTestHook) and xterm.js' buffer API.
 */
interface PageCell { getChars(): string; getFgColor(): number; isFgPalette(): boolean; isFgDefault(): boolean; getWidth(): number }
interface PageLine { isWrapped: boolean; length: number; translateToString(trimRight?: boolean): string; getCell(x: number): PageCell | undefined }
export interface PageTerm {
  cols: number;
  rows: number;
  buffer: { active: { length: number; viewportY: number; getLine(i: number): PageLine | undefined } };
}
export interface PageGlobals {
  __termlab?: { term: PageTerm };
  sessionStorage: { getItem(key: string): string | null };
  location: { href: string };
}

const ROOT = path.resolve(import.meta.dirname, '..', '..');

export const CHROMIUM = process.env.TERMLAB_CHROMIUM ?? '/usr/bin/chromium';
export const PROMPT = 'root@lab:~# ';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

function webIsStale(): boolean {
  const app = path.join(ROOT, 'dist', 'web', 'app.js');
  const sources = Math.max(newestMtime(path.join(ROOT, 'web')), newestMtime(path.join(ROOT, 'protocol')));
  return !existsSync(app) || statSync(app).mtimeMs < sources;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Builds dist/web (what the server serves) when it is missing or older than web/ or protocol/.
 * Test files run in parallel processes: a lock directory keeps them from building at once.
 */
export function ensureWebBuilt(): void {
  if (!webIsStale()) return;
  const lock = path.join(ROOT, 'dist', '.web-build.lock');
  mkdirSync(path.dirname(lock), { recursive: true });
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // Another process is building; a lock older than two minutes is left over from a crash.
      const held = statSync(lock, { throwIfNoEntry: false });
      if (held && Date.now() - held.mtimeMs > 120_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`waited too long for ${lock}`);
      sleepSync(200);
    }
  }
  try {
    if (!webIsStale()) return;
    const built = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-web.mjs')], { cwd: ROOT, stdio: 'inherit' });
    if (built.status !== 0) throw new Error(`building the web app failed (exit ${built.status})`);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export async function launchBrowser(): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  // Every page of every test loads the app again when Chromium aborted it (retryNavigationOnNetworkChange):
  // a test file that makes its pages its own way must not be the one a box's bridge breaks.
  const newContext = browser.newContext.bind(browser);
  browser.newContext = async (options) => {
    const context = await newContext(options);
    context.on('page', retryNavigationOnNetworkChange);
    return context;
  };
  const newPage = browser.newPage.bind(browser);
  browser.newPage = async (options) => {
    const page = await newPage(options);
    retryNavigationOnNetworkChange(page);
    return page;
  };
  return browser;
}

/**
 * Console errors and uncaught page errors, collected for assertions and failure messages. Except
 * Chromium's ERR_NETWORK_CHANGED: this browser runs on the host whose box bridges come and go
 * (every session makes one), and Chromium aborts what is loading whenever an interface changes.
 * A learner's browser is on another machine (and a page whose code failed to load says so: tl-app).
 */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.text().includes('net::ERR_NETWORK_CHANGED')) errors.push(`console: ${msg.text()}`);
  });
  return errors;
}

const NETWORK_CHANGED = 'net::ERR_NETWORK_CHANGED';
/** Pages whose goto already retries (launchBrowser's contexts do it for every page; openPage too). */
const retrying = new WeakSet<Page>();
/** Loads whose failure leaves the app unable to start: it has to be loaded again. */
const APP_LOADS = new Set(['document', 'script', 'stylesheet']);

/**
 * Makes `page.goto` load the page again (up to three times) when Chromium aborted the page or its
 * code with ERR_NETWORK_CHANGED (see collectPageErrors: a box's bridge came or went meanwhile).
 * Such a page stays blank (app.js never ran: no <tl-app>), and a learner would press reload; a
 * test waiting on it would time out with nothing to show for it (seen in CI, about 1 run in 8 of
 * the join-page tests on a busy machine).
 */
export function retryNavigationOnNetworkChange(page: Page): void {
  if (retrying.has(page)) return;
  retrying.add(page);
  let aborted = false;
  page.on('requestfailed', (req) => {
    if (req.failure()?.errorText === NETWORK_CHANGED && APP_LOADS.has(req.resourceType())) aborted = true;
  });
  const goto = page.goto.bind(page);
  page.goto = async (url, options) => {
    for (let attempt = 1; ; attempt++) {
      aborted = false;
      try {
        const response = await goto(url, options);
        if (!aborted || attempt === 3) return response;
        console.error(`# ${url}: its code was aborted by ERR_NETWORK_CHANGED, loading it again`);
      } catch (err) {
        if (!String(err).includes(NETWORK_CHANGED) || attempt === 3) throw err;
        console.error(`# ${url}: aborted by ERR_NETWORK_CHANGED, loading it again`);
      }
    }
  };
}

/** A page (in a fresh context of its own, or in `context`), with CSP violations reported and errors collected. */
export interface OpenPage { context: BrowserContext; page: Page; errors: string[] }

export async function openPage(browser: Browser, context?: BrowserContext): Promise<OpenPage> {
  const ctx = context ?? await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  await reportCspViolations(page);
  retryNavigationOnNetworkChange(page);
  return { context: ctx, page, errors: collectPageErrors(page) };
}

/**
 * Makes the page report Content-Security-Policy violations as console errors ("CSP violation: ..."),
 * which collectPageErrors collects (Chromium's own "Refused to ..." lines are console errors too).
 * Call before the first goto. Written as a string: the tests compile without the DOM lib.
 */
export async function reportCspViolations(page: Page): Promise<void> {
  await page.addInitScript({
    content: `document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.effectiveDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber));`,
  });
}

export type TerminalState = 'connecting' | 'connected' | 'reconnecting' | 'ended';

export async function terminalState(page: Page): Promise<TerminalState | null> {
  const status = page.locator('[data-testid=terminal-status]');
  if (await status.count() === 0) return null;
  return (await status.getAttribute('data-state')) as TerminalState | null;
}

export async function waitForState(page: Page, state: TerminalState, ms = 30_000): Promise<void> {
  await page.locator(`[data-testid=terminal-status][data-state=${state}]`).waitFor({ state: 'attached', timeout: ms });
}

/**
 * The terminal's buffer (scrollback and screen) as logical lines: rows continued by wrapping are
 * joined to the row they continue, trailing blanks trimmed. Empty when no terminal is shown.
 */
export async function terminalLines(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const term = (globalThis as unknown as PageGlobals).__termlab?.term;
    if (!term) return [];
    const buf = term.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < buf.length; i++) {
      const line = buf.getLine(i);
      if (!line) continue;
      const text = line.translateToString(true);
      if (line.isWrapped && lines.length > 0) lines[lines.length - 1] += text;
      else lines.push(text);
    }
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    return lines;
  });
}

/** Polls the buffer until some line satisfies `match` (a string is an exact line); returns that line. */
export async function waitForLine(page: Page, match: string | RegExp | ((line: string) => boolean), ms = 20_000): Promise<string> {
  const test = typeof match === 'string' ? (l: string) => l === match
    : match instanceof RegExp ? (l: string) => match.test(l) : match;
  let last: string[] = [];
  try {
    return await until(`a terminal line matching ${String(match)}`, async () => {
      last = await terminalLines(page);
      return last.find(test);
    }, ms, 100);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- terminal ---\n${last.slice(-30).join('\n')}\n---`);
  }
}

/** Waits until the last line of the buffer is the shell prompt (nothing typed after it). */
export async function waitForPrompt(page: Page, ms = 30_000): Promise<void> {
  let last: string[] = [];
  try {
    await until('the shell prompt', async () => {
      last = await terminalLines(page);
      return isPrompt(last.at(-1));
    }, ms, 100);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- terminal ---\n${last.slice(-30).join('\n')}\n---`);
  }
}

/** A line that is the bare prompt (xterm.js keeps the written trailing space). */
export function isPrompt(line: string | undefined): boolean {
  return line?.trimEnd() === PROMPT.trimEnd();
}

export function countLines(lines: string[], line: string): number {
  return lines.filter((l) => l === line).length;
}

/** Puts the keyboard focus in the terminal on show (its hidden input textarea). */
export async function focusTerminal(page: Page): Promise<void> {
  await page.locator('tl-terminal[active] .xterm-helper-textarea').focus();
}

/** Types a line into the terminal and presses Enter. */
export async function typeLine(page: Page, text: string): Promise<void> {
  await focusTerminal(page);
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

/** Types a command and waits for the prompt to come back after it. Returns the buffer's lines then. */
export async function run(page: Page, command: string, ms = 30_000): Promise<string[]> {
  const before = (await terminalLines(page)).length;
  await typeLine(page, command);
  let last: string[] = [];
  try {
    await until(`"${command}" to finish`, async () => {
      last = await terminalLines(page);
      return last.length > before && isPrompt(last.at(-1));
    }, ms, 100);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- terminal ---\n${last.slice(-30).join('\n')}\n---`);
  }
  return last;
}

/** Opens the lab list, clicks Start for the lab and waits for the connected terminal's prompt. */
export async function startLab(page: Page, baseUrl: string, labId: string, ms = 120_000): Promise<void> {
  await page.goto(baseUrl);
  await page.locator(`[data-testid=start-${labId}]`).click();
  await waitForState(page, 'connected', ms);
  await waitForPrompt(page, ms);
}

export async function terminalSize(page: Page): Promise<{ cols: number; rows: number }> {
  return page.evaluate(() => {
    const term = (globalThis as unknown as PageGlobals).__termlab?.term;
    if (!term) throw new Error('no terminal on the page');
    return { cols: term.cols, rows: term.rows };
  });
}

/** The session the page keeps in sessionStorage (web/session-store.ts). */
export async function storedSession(page: Page): Promise<{ id: string; token: string } | null> {
  return page.evaluate(() => {
    const raw = (globalThis as unknown as PageGlobals).sessionStorage.getItem('termlab.session');
    return raw ? (JSON.parse(raw) as { id: string; token: string }) : null;
  });
}

/** Index in the buffer of the last row whose text (trimmed on the right) is exactly `text`; -1 if none. */
export async function lastRowIndex(page: Page, text: string): Promise<number> {
  return page.evaluate((wanted) => {
    const buf = (globalThis as unknown as PageGlobals).__termlab?.term.buffer.active;
    if (!buf) return -1;
    for (let i = buf.length - 1; i >= 0; i--) {
      if (buf.getLine(i)?.translateToString(true).trimEnd() === wanted) return i;
    }
    return -1;
  }, text);
}

/**
 * Page coordinates of the middle of a cell (buffer row, column), from the size of the rendered
 * screen. The row must be in the viewport.
 */
export async function cellCenter(page: Page, row: number, col: number): Promise<{ x: number; y: number }> {
  const box = await page.locator('tl-terminal .xterm-screen').boundingBox();
  if (!box) throw new Error('the terminal screen is not rendered');
  const { cols, rows, viewportY } = await page.evaluate(() => {
    const term = (globalThis as unknown as PageGlobals).__termlab!.term;
    return { cols: term.cols, rows: term.rows, viewportY: term.buffer.active.viewportY };
  });
  const screenRow = row - viewportY;
  if (screenRow < 0 || screenRow >= rows) throw new Error(`buffer row ${row} is not in the viewport (top ${viewportY}, ${rows} rows)`);
  const cellW = box.width / cols;
  const cellH = box.height / rows;
  return { x: box.x + (col + 0.5) * cellW, y: box.y + (screenRow + 0.5) * cellH };
}

/**
 * A TCP proxy in front of the lab server, standing in for the network between the browser and
 * the server: `cut()` resets every connection through it and refuses new ones until `restore()`.
 * Point the page at `url` instead of the server's own.
 */
export interface NetworkLink {
  readonly url: string;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startNetworkLink(targetUrl: string): Promise<NetworkLink> {
  const target = new URL(targetUrl);
  const sockets = new Set<net.Socket>();
  let down = false;
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  };
  const proxy = net.createServer((client) => {
    track(client);
    if (down) {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(Number(target.port), target.hostname);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.resetAndDestroy());
  });
  await new Promise<void>((resolve, reject) => {
    proxy.once('error', reject);
    proxy.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = proxy.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    cut() {
      down = true;
      for (const socket of sockets) socket.resetAndDestroy();
    },
    restore() {
      down = false;
    },
    async close() {
      down = true;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}

// ---- the lab guide (tl-guide) ----

export type StepStatus = 'pending' | 'current' | 'done';

/** The guide's entry for step n (counted from 1) in the step list. */
export function guideStep(page: Page, n: number) {
  return page.locator(`tl-guide [data-testid=step-${n}]`);
}

/** Waits until step n (from 1) has the status; says what it had instead when it does not. */
export async function waitForStep(page: Page, n: number, status: StepStatus, ms = 30_000): Promise<void> {
  try {
    await page.locator(`tl-guide [data-testid=step-${n}][data-status=${status}]`).waitFor({ state: 'attached', timeout: ms });
  } catch (err) {
    const had = await guideStep(page, n).getAttribute('data-status').catch(() => null);
    const feedback = await page.locator('tl-guide [data-testid=check-feedback]').textContent().catch(() => null);
    throw new Error(`step ${n} did not become ${status} (it is ${had}; feedback: ${feedback ?? 'none'}): ${(err as Error).message}`);
  }
}

/** The guide's progress: steps done and steps in all. */
export async function guideProgress(page: Page): Promise<{ done: number; total: number }> {
  const bar = page.locator('tl-guide [data-testid=progress]');
  return { done: Number(await bar.getAttribute('data-done')), total: Number(await bar.getAttribute('data-total')) };
}

/** The `tl-terminal` whose terminal id is `id`. */
export function terminalById(page: Page, id: string) {
  return page.locator(`tl-terminal#term-${id}`);
}

// ---- recordings: the record button and the player (tl-player) ----

export type PlayerState = 'loading' | 'playing' | 'paused' | 'ended' | 'error';

/** The record button of the running lab's header (`data-recording` = true | false). */
export function recordToggle(page: Page) {
  return page.locator('[data-testid=record-toggle]');
}

/** Waits until the record button says the terminal on show is (not) being recorded. */
export async function waitForRecording(page: Page, recording: boolean, ms = 15_000): Promise<void> {
  await page.locator(`[data-testid=record-toggle][data-recording=${recording}]`).waitFor({ state: 'attached', timeout: ms });
}

/** The first player inside `scope` (a CSS selector; the page when empty): its `data-testid=player` box. */
export function playerBox(page: Page, scope = '') {
  return page.locator(`${scope} tl-player [data-testid=player]`.trim()).first();
}

/** Waits until the player (in `scope`) has the state; says what it had instead, and its error, when it does not. */
export async function waitForPlayer(page: Page, state: PlayerState, opts: { scope?: string; ms?: number } = {}): Promise<void> {
  const scope = opts.scope ?? '';
  try {
    await page.locator(`${scope} tl-player [data-testid=player][data-state=${state}]`.trim()).first().waitFor({ state: 'attached', timeout: opts.ms ?? 30_000 });
  } catch (err) {
    const had = await playerBox(page, scope).getAttribute('data-state').catch(() => null);
    const error = await page.locator(`${scope} tl-player [data-testid=player-error]`.trim()).first().textContent({ timeout: 500 }).catch(() => null);
    throw new Error(`the player did not become ${state} (it is ${had}${error ? `: ${error.trim()}` : ''}): ${(err as Error).message}`);
  }
}

/**
 * Plays the player (in `scope`) to its end quickly: 16× with pauses cut to half a second, then
 * play if it is not playing (changing the speed after the end leaves it paused at the start).
 */
export async function playToEnd(page: Page, scope = '', ms = 60_000): Promise<void> {
  await setPlayback(page, 16, 0.5, scope);
  if (await playerBox(page, scope).getAttribute('data-state') === 'paused') {
    await page.locator(`${scope} tl-player .ap-playback-button`.trim()).first().click();
  }
  await waitForPlayer(page, 'ended', { scope, ms });
}

/** Sets the player's speed and pause cutting with its own selects (a quick run to the end: 16, 0.5). */
export async function setPlayback(page: Page, speed: number, idleLimit: number, scope = ''): Promise<void> {
  await page.locator(`${scope} tl-player [data-testid=player-speed]`.trim()).first().selectOption(String(speed));
  await page.locator(`${scope} tl-player [data-testid=player-idle]`.trim()).first().selectOption(String(idleLimit));
}

/**
 * The page's visible text through open shadow roots and its URL, for a failure message: a
 * timeout that says only "waiting for [data-testid=...]" does not tell what the page showed instead.
 */
export async function describePage(page: Page): Promise<string> {
  try {
    const text = await page.evaluate(`(() => {
      const out = [];
      const walk = (node) => {
        if (node.nodeType === 3) { const t = node.textContent.trim(); if (t) out.push(t); return; }
        if (node.nodeType !== 1 && node.nodeType !== 11) return;
        if (node.shadowRoot) walk(node.shadowRoot);
        for (const child of node.childNodes) walk(child);
      };
      walk(document.body);
      const scripts = performance.getEntriesByType('resource').map((e) => e.name.replace(location.origin, '') + ' ' + Math.round(e.responseEnd) + 'ms ' + e.transferSize + 'B');
      return 'readyState ' + document.readyState + ', tl-app ' + (customElements.get('tl-app') ? 'defined' : 'undefined') + ', at ' + Math.round(performance.now()) + 'ms; resources: ' + scripts.join(', ') + '; text: ' + out.join(' | ');
    })()`);
    return `${page.url()}: ${String(text).slice(0, 2000)}`;
  } catch (err) {
    return `${page.url()}: (could not read the page: ${String(err)})`;
  }
}
