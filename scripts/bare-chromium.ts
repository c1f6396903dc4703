// Chromium driven over the DevTools protocol with nothing enabled but what a measurement needs.
//
// Playwright enables the Network domain on every page it drives, and with it Chromium copies every
// WebSocket frame a page sends or receives into a protocol event (binary frames as base64) for the
// driving process to parse. In a 16 MiB flood that is ~21 MiB of JSON through the browser process
// and into the driver: CPU that a learner's browser never spends, taken from the same two cores
// the page and the servers measured share. So the timed parts of `npm run bench -- --only peer`
// drive their pages from here: a page is a target of its own browser context (its own cookies),
// reached with Runtime.evaluate, and nothing reports its traffic.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { CHROMIUM } from '../test/helpers/browser.js';

interface Pending { resolve(v: unknown): void; reject(e: Error): void; method: string }

export class BareChromium {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  private constructor(private readonly proc: ChildProcess, private readonly ws: WebSocket, private readonly profileDir: string) {
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: { message: string } };
      if (msg.id === undefined) return; // events: none is asked for
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.error) p.reject(new Error(`${p.method}: ${msg.error.message}`));
      else p.resolve(msg.result);
    });
    ws.on('close', () => {
      for (const p of this.pending.values()) p.reject(new Error(`${p.method}: the browser went away`));
      this.pending.clear();
    });
  }

  /** Headless Chromium (the tests' binary and flags) with a DevTools endpoint on a free port. */
  static async launch(): Promise<BareChromium> {
    const profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'termlab-bare-chromium-'));
    const proc = spawn(CHROMIUM, [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--no-default-browser-check', '--mute-audio', '--hide-scrollbars',
      `--user-data-dir=${profileDir}`, '--remote-debugging-port=0', 'about:blank',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Chromium gave no DevTools address in 30 s:\n${log}`)), 30_000);
      proc.stderr!.on('data', (d: Buffer) => {
        log = (log + d.toString()).slice(-4000);
        const m = /DevTools listening on (ws:\S+)/.exec(log);
        if (m) { clearTimeout(timer); resolve(m[1]!); }
      });
      proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`Chromium exited (${code}):\n${log}`)); });
      // A missing binary is an 'error' event, not an exit: unheard, it would end the run unexplained.
      proc.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`cannot start Chromium at ${CHROMIUM} (${err.message}): npm run bench installs it (scripts/system-deps.sh test), or set TERMLAB_CHROMIUM`));
      });
    });
    const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    return new BareChromium(proc, ws, profileDir);
  }

  send<T = unknown>(method: string, params: object = {}, sessionId?: string): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, method });
      this.ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });
  }

  /**
   * A page of `width` x `height` in a browser context of its own, `init` run before each document's
   * scripts, at `url`, its document loaded.
   */
  async open(url: string, viewport: { width: number; height: number }, init?: string): Promise<BarePage> {
    const { browserContextId } = await this.send<{ browserContextId: string }>('Target.createBrowserContext', { disposeOnDetach: true });
    const { targetId } = await this.send<{ targetId: string }>('Target.createTarget', { url: 'about:blank', browserContextId, ...viewport });
    const { sessionId } = await this.send<{ sessionId: string }>('Target.attachToTarget', { targetId, flatten: true });
    const page = new BarePage(this, sessionId, browserContextId);
    await page.send('Emulation.setDeviceMetricsOverride', { ...viewport, deviceScaleFactor: 1, mobile: false });
    // Page.enable (a few events per navigation, on every page alike): without it an init script is
    // kept but not run in new documents.
    await page.send('Page.enable');
    if (init) await page.send('Page.addScriptToEvaluateOnNewDocument', { source: init });
    await page.send('Page.navigate', { url });
    await page.waitFor(() => document.readyState === 'complete', undefined, 60_000, 'the page to load');
    return page;
  }

  async close(): Promise<void> {
    this.ws.close();
    if (this.proc.exitCode === null) {
      const exited = new Promise((r) => this.proc.once('exit', r));
      this.proc.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
    }
    fs.rmSync(this.profileDir, { recursive: true, force: true });
  }
}

declare const document: { readyState: string };

export interface MainThreadTime { busy: number; script: number; layout: number; style: number }

export class BarePage {
  private performanceOn = false;

  constructor(private readonly browser: BareChromium, private readonly sessionId: string, private readonly contextId: string) {}

  send<T = unknown>(method: string, params: object = {}): Promise<T> {
    return this.browser.send<T>(method, params, this.sessionId);
  }

  /**
   * Runs `fn(arg)` in the page and returns its (awaited) result, as Playwright's page.evaluate:
   * `fn` is sent as its source text, so it may use only its argument and the page's globals.
   */
  async evaluate<A, R>(fn: (arg: A) => R | Promise<R>, arg?: A): Promise<R> {
    const { result, exceptionDetails } = await this.send<{ result: { value?: R }; exceptionDetails?: { exception?: { description?: string }; text: string } }>(
      'Runtime.evaluate', { expression: `(${fn.toString()})(${arg === undefined ? '' : JSON.stringify(arg)})`, awaitPromise: true, returnByValue: true });
    if (exceptionDetails) throw new Error(exceptionDetails.exception?.description ?? exceptionDetails.text);
    return result.value as R;
  }

  /** Polls `test(arg)` in the page every 100 ms until it is true. */
  async waitFor<A>(test: (arg: A) => boolean, arg: A, ms: number, what: string): Promise<void> {
    const until = performance.now() + ms;
    for (;;) {
      if (await this.evaluate(test, arg).catch(() => false)) return;
      if (performance.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * How long the page's main thread has been busy so far, in seconds (Chromium's Performance
   * metrics: all its tasks, and of them script, layout and style recalculation).
   */
  async mainThread(): Promise<MainThreadTime> {
    if (!this.performanceOn) {
      await this.send('Performance.enable');
      this.performanceOn = true;
    }
    const { metrics } = await this.send<{ metrics: Array<{ name: string; value: number }> }>('Performance.getMetrics');
    const m = Object.fromEntries(metrics.map(({ name, value }) => [name, value]));
    return { busy: m.TaskDuration ?? NaN, script: m.ScriptDuration ?? NaN, layout: m.LayoutDuration ?? NaN, style: m.RecalcStyleDuration ?? NaN };
  }

  async screenshot(file: string): Promise<void> {
    const { data } = await this.send<{ data: string }>('Page.captureScreenshot', { format: 'png' });
    fs.writeFileSync(file, Buffer.from(data, 'base64'));
  }

  async close(): Promise<void> {
    await this.browser.send('Target.disposeBrowserContext', { browserContextId: this.contextId }).catch(() => {});
  }
}
