// The lab list's first load carries neither the recording player (asciinema-player) nor the
// terminal (xterm.js): they are chunks (scripts/build-web.mjs) fetched by the pages that need
// them, under the page's CSP, compressed and cached. Which files hold them comes from the build's
// metafile (dist/web-meta.json). No box is started.
//   node --import tsx --test --test-timeout=120000 test/web/page-weight.test.ts
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { LabServer } from '../../server/lab-server.js';
import { collectPageErrors, ensureWebBuilt, launchBrowser, playToEnd, reportCspViolations, waitForPlayer } from '../helpers/browser.js';
import { startTestServer } from '../helpers/lab-server.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
let server: LabServer;
let browser: Browser;
/** URL paths of the JavaScript files holding each package. */
let player: Set<string>;
let terminal: Set<string>;

/** The output files (as URL paths under dist/web) with any input from `dir`. */
function filesHolding(meta: { outputs: Record<string, { inputs: Record<string, unknown> }> }, dir: string): Set<string> {
  const holding = Object.entries(meta.outputs)
    .filter(([name, o]) => name.endsWith('.js') && Object.keys(o.inputs).some((input) => input.startsWith(dir)))
    .map(([name]) => `/${path.relative('dist/web', name)}`);
  assert.ok(holding.length > 0, `no output holds ${dir}`);
  return new Set(holding);
}

/** A page that keeps the paths it requested, and its console errors and CSP violations. */
async function recordedPage(): Promise<{ page: Page; requested: string[]; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const requested: string[] = [];
  page.on('request', (req) => requested.push(new URL(req.url()).pathname));
  await reportCspViolations(page);
  return { page, requested, errors: collectPageErrors(page) };
}

const hits = (requested: string[], files: Set<string>) => requested.filter((p) => files.has(p));

/** A small recording with two markers, as asciinema writes it. */
const CAST = [
  JSON.stringify({ version: 2, width: 60, height: 10, idle_time_limit: 0.5 }),
  JSON.stringify([0.1, 'm', '1. First']), JSON.stringify([0.2, 'o', 'root@lab:~# echo one\r\none\r\n']),
  JSON.stringify([0.4, 'm', '2. Second']), JSON.stringify([0.5, 'o', 'root@lab:~# echo two\r\ntwo\r\n']),
].join('\n') + '\n';

before(async () => {
  ensureWebBuilt();
  const meta = JSON.parse(readFileSync(path.join(ROOT, 'dist', 'web-meta.json'), 'utf8'));
  player = filesHolding(meta, 'node_modules/asciinema-player/');
  terminal = filesHolding(meta, 'node_modules/@xterm/xterm/');
  server = await startTestServer();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test('the lab list fetches neither the player nor the terminal, and a walkthrough fetches the player when opened', async () => {
  const { page, requested, errors } = await recordedPage();
  await page.goto(server.url);
  await page.locator('[data-testid^=start-]').first().waitFor();
  assert.deepEqual(hits(requested, player), [], 'no player chunk on the lab list');
  assert.deepEqual(hits(requested, terminal), [], 'no terminal chunk on the lab list');
  assert.deepEqual(requested.filter((p) => p.endsWith('.css')), ['/app.css'], 'only the app\'s own style sheet');
  assert.equal(await page.evaluate('customElements.get("tl-player") === undefined'), true);

  await page.locator('[data-testid=watch-walkthrough]').first().click();
  await waitForPlayer(page, 'playing', { scope: '[data-testid=walkthrough-dialog]' });
  assert.ok(hits(requested, player).length > 0, 'the player chunk came with the walkthrough');
  assert.deepEqual(hits(requested, terminal), [], 'still no terminal');
  // The rules the player needs in the document (it measures its font there) came with its chunk.
  const documentHasPlayerRules = await page.evaluate(
    '[...document.adoptedStyleSheets].some((s) => [...s.cssRules].some((r) => r.cssText.includes(".ap-wrapper")))');
  assert.equal(documentHasPlayerRules, true);
  assert.deepEqual(errors, []);
  await page.close();
});

test('the Recordings view fetches the player and plays a file to the end', async () => {
  const { page, requested, errors } = await recordedPage();
  await page.goto(`${server.url}/#/recordings`);
  await page.locator('[data-testid=local-cast-input]').setInputFiles({ name: 'two.cast', mimeType: 'application/x-asciicast', buffer: Buffer.from(CAST) });
  await playToEnd(page, '[data-testid=now-playing]');
  assert.ok(hits(requested, player).length > 0);
  assert.deepEqual(hits(requested, terminal), [], 'the Recordings view needs no terminal');
  assert.deepEqual(errors, []);
  await page.close();
});

test('chunks come compressed, cached for good, under the page\'s security headers', async () => {
  const { page } = await recordedPage();
  const chunk = page.waitForResponse((res) => player.has(new URL(res.url()).pathname));
  await page.goto(`${server.url}/#/recordings`);
  const res = await chunk;
  const headers = await res.allHeaders();
  assert.equal(res.status(), 200);
  assert.match(headers['content-encoding'] ?? '', /^(br|gzip)$/, `Accept-Encoding was ${await res.request().headerValue('accept-encoding')}`);
  assert.equal(headers['cache-control'], 'public, max-age=31536000, immutable');
  assert.match(headers['content-security-policy'] ?? '', /script-src 'self'/);
  assert.equal(headers['x-content-type-options'], 'nosniff');
  await page.close();
});
