// Recordings in a real Chromium against a real lab server and box: the Record button across a
// reload, the Recordings view (list, download, share, delete), the player (tl-player around
// asciinema-player) playing to the end, a share link in a browser without cookies, the embed page,
// broken local files, local asciicast v1 and v3 files, and a lab's walkthrough with its steps as chapters.
//   node --import tsx --test --test-timeout=300000 test/web/recordings.test.ts
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { RecordingInfo, RecordingListResponse } from '../../protocol/api.js';
import { parseAsciicast, type Asciicast } from '../../protocol/asciicast.js';
import type { LabServer } from '../../server/lab-server.js';
import {
  collectPageErrors, ensureWebBuilt, openPage, launchBrowser, playToEnd, playerBox, recordToggle, run, setPlayback, startLab, waitForPlayer,
  waitForPrompt, waitForRecording, waitForState, waitForStep, type OpenPage,
} from '../helpers/browser.js';
import { startTestServer, stopAndListLeftovers, testInstance, until } from '../helpers/lab-server.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const HELLO = path.join(ROOT, 'labs', 'hello');
/** The hello lab's own walkthrough, when the labs have been recorded; otherwise the test writes a small one. */
const HAS_REAL_WALKTHROUGH = existsSync(path.join(HELLO, 'walkthrough.cast'));

const instance = testInstance();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'termlab-rec-web-'));
const labsDir = path.join(tmp, 'labs');
let server: LabServer;
let browser: Browser;

/** The hello lab's step titles, from its step files. */
function helloStepTitles(): string[] {
  return readdirSync(path.join(HELLO, 'steps')).filter((f) => f.endsWith('.md')).sort()
    .map((f) => /^title:\s*(.+)$/m.exec(readFileSync(path.join(HELLO, 'steps', f), 'utf8'))![1]!.trim());
}

/** A small walkthrough in the shape the recorder writes: a marker per step, then "Finished", a few seconds apart. */
function syntheticWalkthrough(titles: string[]): string {
  const lines = [JSON.stringify({ version: 2, width: 80, height: 24, title: 'Hello, terminal (walkthrough)', idle_time_limit: 1 })];
  let t = 0;
  const ev = (dt: number, code: string, data: string) => { t = Math.round((t + dt) * 1e6) / 1e6; lines.push(JSON.stringify([t, code, data])); };
  ev(0, 'o', 'root@lab:~# ');
  titles.forEach((title, i) => {
    ev(0.2, 'm', `${i + 1}. ${title}`);
    for (const ch of `echo step-${i + 1}`) ev(0.05, 'o', ch);
    ev(0.1, 'o', `\r\nstep-${i + 1}\r\nroot@lab:~# `);
    ev(0.9, 'o', ''); // keeps each chapter about 3 s long
    ev(0.9, 'o', '');
  });
  ev(0.3, 'm', 'Finished');
  ev(0.5, 'o', '\r\n');
  return `${lines.join('\n')}\n`;
}

before(async () => {
  ensureWebBuilt();
  // The hello lab alone, in a folder of its own, so the test can give it a walkthrough if it has none.
  cpSync(HELLO, path.join(labsDir, 'hello'), { recursive: true });
  if (!HAS_REAL_WALKTHROUGH) writeFileSync(path.join(labsDir, 'hello', 'walkthrough.cast'), syntheticWalkthrough(helloStepTitles()));
  server = await startTestServer({ instance, labsDir, stateDir: path.join(tmp, 'state') });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close().catch(() => {});
  const left = await stopAndListLeftovers(server);
  rmSync(tmp, { recursive: true, force: true });
  assert.deepEqual(left, [], 'containers left behind');
});

const newPage = (context?: BrowserContext): Promise<OpenPage> => openPage(browser, context);

/** Saves a screenshot into $TERMLAB_SCREENSHOTS, when set (to look at the pages). */
async function shot(page: Page, name: string): Promise<void> {
  const dir = process.env.TERMLAB_SCREENSHOTS;
  if (dir) await page.screenshot({ path: path.join(dir, `recordings-${name}.png`) });
}

/** All the "o" events' text joined: what the terminal showed. */
function outputText(cast: Asciicast): string {
  return cast.events.filter((e) => e[1] === 'o').map((e) => e[2]).join('');
}

function count(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

describe('recording a lab session', () => {
  let context: BrowserContext;
  let page: Page;
  let errors: string[];
  const tag = crypto.randomBytes(3).toString('hex');
  /** What `printf` prints: not in the typed command (which has a space instead of the dash), so each shows once per run. */
  const before1 = `pre-${tag}`;
  const after1 = `post-${tag}`;
  let recording: RecordingInfo | undefined;
  let castText = '';

  function needs(t: TestContext, what: unknown): boolean {
    if (!what) t.skip('an earlier step failed');
    return Boolean(what);
  }

  before(async () => {
    ({ context, page, errors } = await newPage());
  });
  after(async () => {
    await context?.close().catch(() => {});
  });

  test('Record survives a reload and stops; keystrokes are off unless asked for', async () => {
    await startLab(page, server.url, 'hello');
    await waitForRecording(page, false);
    // The keystroke option is off, and warns once ticked.
    const input = page.locator('[data-testid=record-input]');
    assert.equal(await input.isChecked(), false);
    await input.check();
    await page.locator('[data-testid=record-input-warning]').waitFor();
    assert.match(await page.locator('[data-testid=record-input-warning]').textContent() ?? '', /keystrokes may include passwords/);
    await input.uncheck();

    // The lab ships a walkthrough: the guide offers it.
    await page.locator('tl-guide [data-testid=watch-walkthrough]').waitFor();

    await recordToggle(page).click();
    await waitForRecording(page, true);
    await page.locator('[data-testid=record-elapsed]').waitFor();
    await shot(page, 'recording');
    await run(page, `printf '%s-%s\\n' pre ${tag}`);

    await page.reload();
    await waitForState(page, 'connected');
    await waitForPrompt(page);
    await waitForRecording(page, true); // from GET /api/sessions/:id
    assert.match(await page.locator('[data-testid=record-elapsed]').textContent() ?? '', /^\d+:\d\d$/);

    // A resize while recording ("r" event), then the first step's solution (its marker, "2. ...").
    await page.setViewportSize({ width: 1100, height: 720 });
    await run(page, `printf '%s-%s\\n' post ${tag}`);
    await run(page, 'echo hello > ~/hello.txt');
    await waitForStep(page, 2, 'current');
    await recordToggle(page).click();
    await waitForRecording(page, false);

    const res = await page.request.get(`${server.url}/api/recordings?lab=hello`);
    const { recordings } = (await res.json()) as RecordingListResponse;
    assert.equal(recordings.length, 1, JSON.stringify(recordings));
    recording = recordings[0]!;
    assert.equal(recording.recording, false);
    assert.equal(recording.input, false);
    assert.deepEqual(errors, []);
  });

  test('the Recordings view lists it and downloads a valid .cast', async (t) => {
    if (!needs(t, recording)) return;
    const rec = recording!;
    // During a lab, Recordings opens in a new tab, leaving the lab running in this one.
    const [tab] = await Promise.all([context.waitForEvent('page'), page.locator('[data-testid=nav-recordings]').click()]);
    const tabErrors = collectPageErrors(tab);
    const row = tab.locator(`[data-testid=recording-${rec.id}]`);
    await row.waitFor();
    assert.match(await row.textContent() ?? '', /Hello, terminal/);

    const [download] = await Promise.all([tab.waitForEvent('download'), row.locator('[data-testid=download]').click()]);
    assert.match(download.suggestedFilename(), /^hello-main-.*\.cast$/);
    const href = await row.locator('[data-testid=download]').getAttribute('href');
    const res = await tab.request.get(new URL(href!, server.url).href);
    assert.equal(res.status(), 200);
    assert.match(res.headers()['content-disposition'] ?? '', /attachment/);
    castText = await res.text();

    const cast = parseAsciicast(castText);
    const codes = new Set(cast.events.map((e) => e[1]));
    assert.ok(codes.has('r'), 'resize events');
    assert.ok(!codes.has('i'), 'no keystrokes recorded');
    const markers = cast.events.filter((e) => e[1] === 'm').map((e) => e[2]);
    assert.equal(markers[0], '1. Make a file');
    assert.ok(markers.some((m) => /^2\. /.test(m)), `a marker for step 2: ${JSON.stringify(markers)}`);
    const out = outputText(cast);
    assert.equal(count(out, before1), 1, 'the output from before the reload, once');
    assert.equal(count(out, after1), 1, 'the output from after the reload, once');
    assert.deepEqual(tabErrors, []);
    await tab.close();
  });

  test('it plays in the browser to the end', async (t) => {
    if (!needs(t, castText)) return;
    const tab = await context.newPage();
    const tabErrors = collectPageErrors(tab);
    await tab.goto(`${server.url}/#/recordings`);
    const row = tab.locator(`[data-testid=recording-${recording!.id}]`);
    await row.locator('[data-testid=play]').click();
    await waitForPlayer(tab, 'playing', { scope: '[data-testid=now-playing]' });
    await playToEnd(tab, '[data-testid=now-playing]');
    // The chapters are the recording's markers; the last one is highlighted at the end.
    const chapters = tab.locator('[data-testid=now-playing] tl-player [data-testid^=chapter-]');
    assert.ok(await chapters.count() >= 2);
    assert.equal(await tab.locator('[data-testid=now-playing] [data-testid=chapter-1]').getAttribute('data-step'), '1');
    await shot(tab, 'played');
    assert.deepEqual(tabErrors, []);
    await tab.close();
  });

  test('a share link plays in a browser without cookies; the embed page shows only the player', async (t) => {
    if (!needs(t, castText)) return;
    const tab = await context.newPage();
    await tab.goto(`${server.url}/#/recordings`);
    const row = tab.locator(`[data-testid=recording-${recording!.id}]`);
    await row.locator('[data-testid=share]').click();
    const link = await row.locator('[data-testid=share-link]').inputValue();
    assert.equal(link, `${server.url}/watch/${recording!.share}`);
    const snippet = await row.locator('[data-testid=embed-snippet]').inputValue();
    assert.match(snippet, new RegExp(`^<iframe src="${server.url.replace(/[.]/g, '\\.')}/embed/${recording!.share}"`));
    await tab.close();

    const stranger = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const { page: watch, errors: watchErrors } = await newPage(stranger);
      await watch.goto(link);
      await watch.locator('[data-testid=watch-title]').filter({ hasText: 'Hello, terminal' }).waitFor();
      await waitForPlayer(watch, 'paused');
      await playToEnd(watch);
      await shot(watch, 'watch');
      // Not this browser's recording: it cannot download or delete it.
      assert.equal((await watch.request.get(`${server.url}/api/recordings/${recording!.id}/cast`)).status(), 404);

      const { page: embed, errors: embedErrors } = await newPage(stranger);
      await embed.goto(link.replace('/watch/', '/embed/'));
      await waitForPlayer(embed, 'paused');
      assert.equal(await embed.locator('header').count(), 0, 'no page chrome');
      assert.equal(await embed.locator('tl-player nav.chapters').count(), 0, 'no chapter list');
      await shot(embed, 'embed');
      assert.deepEqual([...watchErrors, ...embedErrors], []);
    } finally {
      await stranger.close();
    }
  });

  test('a truncated file and a file that is no recording show an error, not a player', async (t) => {
    if (!needs(t, castText)) return;
    const tab = await context.newPage();
    await tab.goto(`${server.url}/#/recordings`);
    const picker = tab.locator('[data-testid=local-cast-input]');
    const panel = '[data-testid=now-playing]';

    // The downloaded recording cut in the middle of its last event.
    const lines = castText.trimEnd().split('\n');
    const truncated = `${lines.slice(0, -1).join('\n')}\n${lines.at(-1)!.slice(0, 8)}`;
    await picker.setInputFiles({ name: 'cut.cast', mimeType: 'application/x-asciicast', buffer: Buffer.from(truncated) });
    await waitForPlayer(tab, 'error', { scope: panel, ms: 10_000 });
    const cut = await tab.locator(`${panel} [data-testid=player-error]`).textContent();
    assert.match(cut ?? '', new RegExp(`cut\\.cast is not a playable recording: line ${lines.length}: .*truncated`));
    assert.equal(await tab.locator(`${panel} tl-player .ap-wrapper`).count(), 0, 'no player made');
    await shot(tab, 'truncated');

    await picker.setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('these are my notes\nnot a recording\n') });
    await tab.locator(`${panel} [data-testid=player-error]`).filter({ hasText: 'notes.txt' }).waitFor();
    assert.match(await tab.locator(`${panel} [data-testid=player-error]`).textContent() ?? '', /line 1: the header is not JSON/);
    assert.equal(await tab.locator(`${panel} tl-player .ap-wrapper`).count(), 0, 'no player made');

    // A good file after a bad one plays.
    await picker.setInputFiles({ name: 'good.cast', mimeType: 'application/x-asciicast', buffer: Buffer.from(castText) });
    await waitForPlayer(tab, 'playing', { scope: panel });
    await tab.close();
  });

  test('deleting it removes it from the list and ends its share link', async (t) => {
    if (!needs(t, castText)) return;
    const tab = await context.newPage();
    await tab.goto(`${server.url}/#/recordings`);
    const row = tab.locator(`[data-testid=recording-${recording!.id}]`);
    await row.locator('[data-testid=delete]').click();
    await row.locator('[data-testid=confirm-delete]').click();
    await row.waitFor({ state: 'detached' });
    await tab.locator('[data-testid=recordings-empty]').waitFor();
    const res = await tab.request.get(`${server.url}/api/recordings`);
    assert.deepEqual(((await res.json()) as RecordingListResponse).recordings, []);
    await tab.goto(`${server.url}/watch/${recording!.share}`);
    await tab.locator('[data-testid=watch-error]').waitFor();
    await tab.close();
  });
});

describe('local files in asciicast v1 and v3', () => {
  // Written here in each version's own shape: v3 with term, intervals, a comment, input, a resize,
  // markers and an exit event; v1 as one pretty-printed JSON object of output frames with delays.
  // Both last 3.45 s (v3's exit, later, is not played); v3 keeps pauses up to 5 s, v1 gets the player's 2 s.
  const V3 = [
    { version: 3, term: { cols: 60, rows: 12, type: 'xterm-256color' }, timestamp: 1700000000, idle_time_limit: 5, title: 'Demo v3', tags: ['demo'] },
    '# asciinema 3 writes comments like this one',
    [0.5, 'o', 'root@lab:~# '],
    [0.2, 'm', '1. Make a file'],
    [0.3, 'i', 'ls\r'],
    [0.1, 'o', 'ls\r\nv3-hello.txt\r\n'],
    [1.25, 'r', '70x14'],
    [1.0, 'm', '2. Move it'],
    [0.1, 'o', 'v3-bye\r\n'],
    [0.25, 'x', '0'],
  ].map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n';
  const V1 = JSON.stringify({
    version: 1, width: 60, height: 12, duration: 3.45, command: '/bin/bash', title: 'Demo v1', env: { TERM: 'xterm-256color', SHELL: '/bin/bash' },
    stdout: [[0.5, 'root@lab:~# '], [0.6, 'ls\r\nv1-hello.txt\r\n'], [2.35, 'v1-bye\r\n']],
  }, null, 2);

  test('"Play a local .cast file" plays a v1 file, and a v3 file with its markers as chapters', async () => {
    const { context, page, errors } = await newPage();
    try {
      await page.goto(`${server.url}/#/recordings`);
      const picker = page.locator('[data-testid=local-cast-input]');
      const panel = '[data-testid=now-playing]';
      const duration = () => page.locator(`${panel} tl-player`).evaluate((el) => (el as unknown as { duration?: number }).duration);

      await picker.setInputFiles({ name: 'demo-v1.json', mimeType: 'application/json', buffer: Buffer.from(V1) });
      await waitForPlayer(page, 'playing', { scope: panel });
      assert.match(await page.locator(`${panel} h2`).textContent() ?? '', /demo-v1\.json/);
      assert.equal(await page.locator(`${panel} tl-player [data-testid^=chapter-]`).count(), 0, 'v1 has no markers');
      const v1Length = await until('the player to know the length', duration);
      // The delays were added up (0.5, 1.1, 3.45 s), and the last pause, 2.35 s, cut to the player's default 2 s.
      assert.ok(Math.abs(v1Length - 3.1) < 0.05, `the v1 file plays for ${v1Length} s`);
      await playToEnd(page, panel);

      // A fresh page: playToEnd left the player cutting pauses to 0.5 s.
      await page.reload();
      await picker.setInputFiles({ name: 'demo-v3.cast', mimeType: 'application/x-asciicast', buffer: Buffer.from(V3) });
      await page.locator(`${panel} h2`).filter({ hasText: 'demo-v3.cast' }).waitFor();
      await waitForPlayer(page, 'playing', { scope: panel });
      const chapters = page.locator(`${panel} tl-player [data-testid^=chapter-]`);
      assert.equal(await chapters.count(), 2);
      assert.match(await chapters.nth(0).textContent() ?? '', /Make a file/);
      assert.equal(await chapters.nth(1).getAttribute('data-step'), '2');
      // The intervals were added up: the player's recording is 3.45 s long (its events' times, not the intervals).
      const v3Length = await until('the player to know the length', duration);
      assert.ok(Math.abs(v3Length - 3.45) < 0.05, `the v3 file plays for ${v3Length} s`);
      // Chapter 2 starts 3.35 s into the file.
      const step2 = await page.locator(`${panel} tl-player`).evaluate((el) => (el as unknown as { chapterTime(i: number): number }).chapterTime(1));
      assert.ok(Math.abs(step2 - 3.35) < 0.01, `chapter 2 at ${step2} s`);
      await playToEnd(page, panel);
      assert.equal(await playerBox(page, panel).getAttribute('data-chapter'), '2', 'at the last chapter');
      await shot(page, 'local-v3');

      // A v3 file with a negative interval is refused with its line.
      const bad = V3.replace('[1.25,', '[-1.25,');
      await picker.setInputFiles({ name: 'bad-v3.cast', mimeType: 'application/x-asciicast', buffer: Buffer.from(bad) });
      await page.locator(`${panel} [data-testid=player-error]`).filter({ hasText: 'bad-v3.cast' }).waitFor();
      assert.match(await page.locator(`${panel} [data-testid=player-error]`).textContent() ?? '',
        /bad-v3\.cast is not a playable recording: line 7: the event interval -1\.25 is negative/);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });
});

describe('a lab walkthrough', () => {
  test(`"Watch the walkthrough" plays it with the steps as chapters${HAS_REAL_WALKTHROUGH ? '' : ' (a small stand-in walkthrough)'}`, async () => {
    const { context, page, errors } = await newPage();
    try {
      await page.goto(server.url);
      const titles = helloStepTitles();
      await page.locator('[data-testid=lab-hello] [data-testid=watch-walkthrough]').click();
      const dialog = 'tl-walkthrough-dialog';
      await waitForPlayer(page, 'playing', { scope: dialog });
      const chapter = (n: number) => page.locator(`${dialog} tl-player [data-testid=chapter-${n}]`);
      for (const [i, title] of titles.entries()) {
        assert.equal(await chapter(i + 1).getAttribute('data-step'), String(i + 1));
        assert.match(await chapter(i + 1).textContent() ?? '', new RegExp(title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
      }

      // Choosing step 2 plays from its marker, and highlights it.
      await chapter(2).click();
      await page.locator(`${dialog} tl-player [data-testid=chapter-2][aria-current=step]`).waitFor({ timeout: 5000 });
      const at = await page.locator(`${dialog} tl-player`).evaluate((el) => {
        const p = el as unknown as { currentTime: number; chapterTime(i: number): number };
        return { now: p.currentTime, step2: p.chapterTime(1), step3: p.chapterTime(2) };
      });
      assert.ok(at.now >= at.step2 - 0.05 && at.now < at.step3, `playing step 2 (${at.step2}-${at.step3} s), at ${at.now} s`);
      await shot(page, 'walkthrough');

      // Played on from step 1, the highlight follows the steps to the end.
      await chapter(1).click();
      await page.locator(`${dialog} tl-player [data-testid=chapter-1][aria-current=step]`).waitFor({ timeout: 5000 });
      await setPlayback(page, 16, 0.5, dialog);
      await page.locator(`${dialog} tl-player [data-testid=chapter-2][aria-current=step]`).waitFor({ timeout: 30_000 });
      await waitForPlayer(page, 'ended', { scope: dialog, ms: 120_000 });
      assert.equal(await playerBox(page, dialog).getAttribute('data-chapter'), String(titles.length + 1), 'at "Finished"');

      await page.locator(`${dialog} [data-testid=close-walkthrough]`).click();
      await until('the player to go with the dialog', async () => await page.locator(`${dialog} tl-player`).count() === 0);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });
});

describe('a recording that reaches its size limit', () => {
  test('stops by itself, and the Record button says so', async () => {
    const limited = await startTestServer({
      instance: testInstance(), labsDir, stateDir: path.join(tmp, 'state-limited'),
      recordings: { ...server.config.recordings, maxBytes: 64 * 1024 },
    });
    const { context, page, errors } = await newPage();
    try {
      await startLab(page, limited.url, 'hello');
      await recordToggle(page).click();
      await waitForRecording(page, true);
      await run(page, "head -c 1M /dev/zero | tr '\\0' a; echo");
      await waitForRecording(page, false, 20_000); // the button asks every few seconds
      const notice = page.locator('[data-testid=record-stopped]');
      assert.equal(await notice.textContent(), 'Recording stopped: reached its 64 KiB limit.');
      await shot(page, 'stopped-at-limit');
      const res = await page.request.get(`${limited.url}/api/recordings?lab=hello`);
      const [rec] = ((await res.json()) as RecordingListResponse).recordings;
      assert.equal(rec?.stopped, 'reached its 64 KiB limit');
      assert.ok(rec!.bytes <= 64 * 1024);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
      assert.deepEqual(await stopAndListLeftovers(limited), []);
    }
  });
});
