// npm run bench -- --only page: the lab list's first load in Debian's Chromium, as the browser
// fetches it (Resource Timing: bytes sent and bytes once decoded, per kind), and the time from
// navigation to a usable lab list, median of cold loads (a fresh browser context each: empty
// cache), on this machine's loopback and through Chromium's network throttling. Three builds side
// by side, from the same sources:
// - before: one bundle, sent uncompressed, with the player's and xterm's style sheets linked from
//   index.html: how the page was built and served before code splitting;
// - one bundle, compressed: the same with the server's precompressed copies (what compression
//   alone would have given);
// - now: dist/web as `npm run build` makes it (chunks on demand, precompressed).
// Then the bytes that opening the Recordings view and playing a file fetch on demand.
// Prints figures; asserts nothing.
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Config } from '../server/config.js';
import type { LabServer } from '../server/lab-server.js';
import { ensureWebBuilt, launchBrowser, waitForPlayer } from '../test/helpers/browser.js';
import { percentile } from '../test/helpers/echo.js';
import { buildWeb, compressDir, root, webDir } from './build-web.mjs';

type StartServer = (overrides: Partial<Config>) => Promise<LabServer>;

interface Variant { label: string; dir: string }
/** One fetched file as Resource Timing reports it. */
interface Fetched { path: string; kind: 'JS' | 'CSS' | 'HTML' | 'API' | 'other'; sent: number; raw: number; transfer: number; startMs: number; endMs: number }
interface Load {
  usableMs: number;
  /** GET /api/labs, the lab list's data: asked for (once app.js ran), and answered. */
  labsAskedMs: number;
  labsMs: number;
  files: Fetched[];
  /** The browser's Accept-Encoding, and the Content-Encoding app.js came with. */
  asked: string;
  got: string;
}

/** A network between the browser and the server (Chromium's throttling; Infinity: none). */
interface Link { label: string; latencyMs: number; mbitPerS: number }
const LINKS: Link[] = [
  { label: 'loopback', latencyMs: 0, mbitPerS: Infinity },
  { label: '10 Mbit/s, 40 ms RTT', latencyMs: 40, mbitPerS: 10 },
];

/** The little of the DOM that USABLE reads, typed here: the scripts compile without the DOM library. */
interface PageNode {
  shadowRoot: { querySelector(sel: string): PageNode | null } | null;
  disabled?: boolean;
  getClientRects(): { length: number };
}
interface PageWindow {
  document: { querySelector(sel: string): PageNode | null };
  performance: { now(): number };
}

/**
 * The first Start button of the lab list, rendered and enabled (the cards are there and Lit has
 * bound their handlers): performance.now() then, i.e. milliseconds since navigation began; 0 before.
 * A function, not a string: the page's CSP forbids the eval a string predicate needs.
 */
function USABLE(): number {
  // No inner functions: tsx would wrap them in a helper the page does not have.
  const w = globalThis as unknown as PageWindow;
  let node = w.document.querySelector('tl-app');
  for (const sel of ['tl-home-page', 'tl-lab-list', 'button[data-testid^="start-"]']) node = node?.shadowRoot?.querySelector(sel) ?? null;
  return node && !node.disabled && node.getClientRects().length > 0 ? w.performance.now() : 0;
}

/** Every fetch of the document so far: [path, initiatorType, transferSize, encodedBodySize, decodedBodySize, startTime, responseEnd]. */
const ENTRIES = `[performance.getEntriesByType('navigation')[0], ...performance.getEntriesByType('resource')]
  .map((e) => [new URL(e.name).pathname, e.initiatorType, e.transferSize, e.encodedBodySize, e.decodedBodySize, e.startTime, e.responseEnd])`;

function kindOf(urlPath: string, initiator: string): Fetched['kind'] {
  if (initiator === 'navigation') return 'HTML';
  if (urlPath.startsWith('/api/')) return 'API';
  if (urlPath.endsWith('.js')) return 'JS';
  if (urlPath.endsWith('.css')) return 'CSS';
  return 'other';
}

async function fetched(page: Page): Promise<Fetched[]> {
  const rows = await page.evaluate(ENTRIES) as Array<[string, string, number, number, number, number, number]>;
  return rows.map(([p, initiator, transfer, sent, raw, startMs, endMs]) => ({ path: p, kind: kindOf(p, initiator), sent, raw, transfer, startMs, endMs }));
}

async function throttle(context: BrowserContext, page: Page, link: Link): Promise<void> {
  if (!Number.isFinite(link.mbitPerS)) return;
  const cdp = await context.newCDPSession(page);
  const bytesPerS = (link.mbitPerS * 1e6) / 8;
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: link.latencyMs, downloadThroughput: bytesPerS, uploadThroughput: bytesPerS });
}

/** One cold load of the lab list: a new context (empty cache), until the list is usable and the page loaded. */
async function coldLoad(browser: Browser, url: string, link: Link): Promise<Load & { page: Page; context: BrowserContext }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await throttle(context, page, link);
  const app = page.waitForResponse((res) => new URL(res.url()).pathname === '/app.js');
  await page.goto(url, { waitUntil: 'commit' });
  const usableMs = Number(await (await page.waitForFunction(USABLE, null, { polling: 'raf', timeout: 60_000 })).jsonValue());
  await page.waitForLoadState('load');
  const appResponse = await app;
  const files = await fetched(page);
  return {
    usableMs, files, page, context,
    labsAskedMs: files.find((f) => f.path === '/api/labs')?.startMs ?? NaN,
    labsMs: files.find((f) => f.path === '/api/labs')?.endMs ?? NaN,
    asked: await appResponse.request().headerValue('accept-encoding') ?? 'none',
    got: await appResponse.headerValue('content-encoding') ?? 'none',
  };
}

/** The old build: one app.js, uncompressed or not, and index.html linking both style sheets as it did. */
async function oneBundle(dir: string, compress: boolean): Promise<void> {
  await buildWeb({ outDir: dir, split: false, compress: false });
  const sheets = [
    ['@xterm/xterm/css/xterm.css', 'xterm.css'],
    ['asciinema-player/dist/bundle/asciinema-player.css', 'asciinema-player.css'],
  ];
  await Promise.all(sheets.map(([from, name]) => copyFile(path.join(root, 'node_modules', from!), path.join(dir, name!))));
  const index = path.join(dir, 'index.html');
  const links = sheets.map(([, name]) => `<link rel="stylesheet" href="/${name}">`).join('\n  ');
  await writeFile(index, (await readFile(index, 'utf8')).replace('<link rel="stylesheet" href="/app.css">', `<link rel="stylesheet" href="/app.css">\n  ${links}`));
  if (compress) await compressDir(dir);
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const sum = (files: Fetched[], pick: (f: Fetched) => number) => files.reduce((s, f) => s + pick(f), 0);
const ms = (v: number) => `${v.toFixed(0)} ms`;

/** "JS 46.3 KiB → 14.9 KiB sent (7 files)" for each kind, and the page's total. */
function weightRows(files: Fetched[]): Map<string, string> {
  const rows = new Map<string, string>();
  const page = files.filter((f) => f.kind !== 'API');
  for (const kind of ['HTML', 'CSS', 'JS'] as const) {
    const of = page.filter((f) => f.kind === kind);
    rows.set(`${kind} (files: raw / sent)`, `${of.length}: ${kib(sum(of, (f) => f.raw))} / ${kib(sum(of, (f) => f.sent))}`);
  }
  rows.set('page total, raw (decoded)', kib(sum(page, (f) => f.raw)));
  rows.set('page total, sent (bodies)', kib(sum(page, (f) => f.sent)));
  rows.set('page total, on the wire (with headers)', kib(sum(page, (f) => f.transfer)));
  const api = files.filter((f) => f.kind === 'API');
  rows.set('API calls (not counted above)', `${api.length}: ${kib(sum(api, (f) => f.transfer))}`);
  return rows;
}

/** From the lab list: the Recordings view, then a local file played; what that fetched. */
async function recordingsOnDemand(page: Page): Promise<string> {
  const before = (await fetched(page)).length;
  const t0 = Date.now();
  await page.locator('[data-testid=nav-recordings]').click();
  const cast = [JSON.stringify({ version: 2, width: 60, height: 10 }), JSON.stringify([0.1, 'o', 'hello\r\n']), JSON.stringify([30, 'o', 'bye\r\n'])].join('\n');
  await page.locator('[data-testid=local-cast-input]').setInputFiles({ name: 'a.cast', mimeType: 'application/x-asciicast', buffer: Buffer.from(cast) });
  await waitForPlayer(page, 'playing', { scope: '[data-testid=now-playing]' });
  const playingMs = Date.now() - t0;
  const added = (await fetched(page)).slice(before).filter((f) => f.kind === 'JS' || f.kind === 'CSS');
  return `${added.length}: ${kib(sum(added, (f) => f.raw))} / ${kib(sum(added, (f) => f.sent))}, ${ms(playingMs)}`;
}

function printTable(title: string, columns: string[], rows: Map<string, string[]>): void {
  const width = Math.max(...[...rows.keys()].map((k) => k.length));
  const widths = columns.map((c, i) => Math.max(c.length, ...[...rows.values()].map((v) => v[i]?.length ?? 0)) + 3);
  const line = (label: string, values: string[]) => `  ${label.padEnd(width)}   ${values.map((v, i) => v.padEnd(widths[i]!)).join('')}`.trimEnd();
  console.log(title);
  console.log(line('', columns));
  for (const [label, values] of rows) console.log(line(label, values));
}

export async function benchPage(startServer: StartServer, runs: number): Promise<void> {
  ensureWebBuilt();
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'termlab-bench-page-'));
  const variants: Variant[] = [
    { label: 'before: one bundle, plain', dir: path.join(tmp, 'plain') },
    { label: 'one bundle, compressed', dir: path.join(tmp, 'compressed') },
    { label: 'now: split + compressed', dir: webDir },
  ];
  await oneBundle(variants[0]!.dir, false);
  await oneBundle(variants[1]!.dir, true);
  const browser = await launchBrowser();
  const rows = new Map<string, string[]>();
  const put = (label: string, value: string) => rows.set(label, [...(rows.get(label) ?? []), value]);
  try {
    for (const variant of variants) {
      const srv = await startServer({ webDir: variant.dir });
      try {
        let weight: Map<string, string> | undefined;
        for (const link of LINKS) {
          const times: number[] = [];
          const labsTimes: number[] = [];
          const askedTimes: number[] = [];
          for (let i = 0; i < runs; i++) {
            const load = await coldLoad(browser, srv.url, link);
            times.push(load.usableMs);
            labsTimes.push(load.labsMs);
            askedTimes.push(load.labsAskedMs);
            weight ??= weightRows(load.files);
            if (i === 0 && link === LINKS[0]) {
              put('app.js: Accept-Encoding -> Content-Encoding', `${load.asked} -> ${load.got}`);
              put('then Recordings view, play a file (JS+CSS files: raw / sent, click -> playing)', await recordingsOnDemand(load.page));
            }
            await load.context.close();
          }
          put(`usable lab list, ${link.label} (p50 / p90 of ${runs})`, `${ms(percentile(times, 50))} / ${ms(percentile(times, 90))}`);
          put(`  GET /api/labs asked / answered (p50), ${link.label}`, `${ms(percentile(askedTimes, 50))} / ${ms(percentile(labsTimes, 50))}`);
        }
        for (const [label, value] of weight!) put(label, value);
      } finally {
        await srv.stop();
      }
    }
  } finally {
    await browser.close();
    await rm(tmp, { recursive: true, force: true });
  }
  // Weight first, then times, then what comes on demand.
  const order = [...rows.keys()].sort((a, b) => rank(a) - rank(b));
  printTable(`page weight: the lab list's first load in Chromium, cold cache (Resource Timing; sent = bodies as encoded on the wire)`,
    variants.map((v) => v.label), new Map(order.map((k) => [k, rows.get(k)!])));
}

function rank(label: string): number {
  if (label.startsWith('usable') || label.startsWith('  GET')) return 1;
  if (label.startsWith('then')) return 2;
  return 0;
}
