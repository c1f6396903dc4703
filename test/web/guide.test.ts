// The lab guide in a real Chromium against a real lab server and boxes: steps turning green by
// themselves after Run, a check's own feedback, Check, hints, Show me, progress kept over a reload,
// the finish page, and several terminals in tabs. Also the guide's Markdown rendering on its own.
//   node --import tsx --test --test-timeout=300000 test/web/guide.test.ts
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import * as esbuild from 'esbuild';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { LabListResponse } from '../../protocol/api.js';
import type { LabServer } from '../../server/lab-server.js';
import { commandLines } from '../../web/lab/typing.js';
import {
  collectPageErrors, ensureWebBuilt, guideProgress, guideStep, launchBrowser, run, startLab, terminalById, terminalLines,
  typeLine, waitForLine, waitForStep, type PageGlobals,
} from '../helpers/browser.js';
import { startTestServer, stopAndListLeftovers, testInstance, until } from '../helpers/lab-server.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const instance = testInstance();
let server: LabServer;
let browser: Browser;

before(async () => {
  ensureWebBuilt();
  server = await startTestServer({ instance });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close().catch(() => {});
  const left = await stopAndListLeftovers(server);
  assert.deepEqual(left, [], 'containers left behind');
});

async function newPage(viewport = { width: 1280, height: 800 }): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  return { context, page, errors: collectPageErrors(page) };
}

describe('the hello lab guide', () => {
  let context: BrowserContext;
  let page: Page;
  let errors: string[];
  /** Set once the lab is up; the later tests need its box and go on from where the one before left it. */
  let started = false;
  const guide = (testId: string) => page.locator(`tl-guide [data-testid=${testId}]`);

  function needsLab(t: TestContext): boolean {
    if (!started) t.skip('the lab did not start');
    return started;
  }

  before(async () => {
    ({ context, page, errors } = await newPage());
  });
  after(async () => {
    await context?.close().catch(() => {});
  });

  test('the guide shows the lab beside the terminal', async () => {
    await startLab(page, server.url, 'hello');
    await guide('step-1').waitFor();
    started = true;
    assert.equal(await page.locator('tl-guide h2').textContent(), 'Hello, terminal');
    await waitForStep(page, 1, 'current');
    assert.equal(await guideStep(page, 2).getAttribute('data-status'), 'pending');
    assert.equal(await guideStep(page, 3).getAttribute('data-status'), 'pending');
    assert.deepEqual(await guideProgress(page), { done: 0, total: 3 });
    // The introduction is open before the first step; the first step's text is shown.
    assert.equal(await guide('lab-intro').getAttribute('open'), '');
    assert.match(await guide('step-content').textContent() ?? '', /Write the word hello into a file/);
    // Guide on the left, terminal on the right, the guide about 38% of the width.
    const g = await page.locator('tl-guide').boundingBox();
    const t = await page.locator('tl-terminal').boundingBox();
    assert.ok(g && t && g.x + g.width <= t.x, 'guide left of the terminal');
    assert.ok(g.width > 1280 * 0.3 && g.width < 1280 * 0.45, `guide width ${g.width}`);
    assert.deepEqual(errors, []);
  });

  test('Run types the block into the terminal and the step turns done without Check', async (t) => {
    if (!needsLab(t)) return;
    let checks = 0;
    page.on('request', (req) => { if (req.url().endsWith('/check')) checks++; });
    await guide('step-content').locator('[data-testid=run]').first().click();
    await waitForLine(page, 'root@lab:~# echo hello > ~/hello.txt');
    await waitForStep(page, 1, 'done');
    await waitForStep(page, 2, 'current');
    assert.equal(checks, 0, 'no Check request was made');
    assert.deepEqual(await guideProgress(page), { done: 1, total: 3 });
    // The done step shows a check mark; the guide moved on to step 2 and folded the introduction.
    assert.equal((await guideStep(page, 1).locator('.marker').textContent())?.trim(), '✓');
    assert.equal(await guide('step-content').getAttribute('data-step'), '2');
    assert.equal(await guide('lab-intro').getAttribute('open'), null);
  });

  test('Copy puts a code block on the clipboard', async (t) => {
    if (!needsLab(t)) return;
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    const copy = guide('step-content').locator('[data-testid=copy]').first();
    await copy.click();
    await page.locator('tl-guide [data-testid=step-content] [data-testid=copy]', { hasText: 'Copied' }).waitFor();
    const text = await page.evaluate(() => (globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }).navigator.clipboard.readText());
    assert.equal(text, 'mkdir ~/notes\nmv ~/hello.txt ~/notes/\nls -l ~/notes');
  });

  test('a mistake in step 2 shows the check\'s own words; Check checks again', async (t) => {
    if (!needsLab(t)) return;
    await run(page, 'mkdir ~/notes && cp ~/notes/../hello.txt ~/notes/');
    const feedback = guide('check-feedback');
    await feedback.waitFor({ timeout: 30_000 });
    assert.equal((await feedback.textContent())?.trim(), 'Not yet: hello.txt is still in /root: move it (mv), do not copy it.');
    await waitForStep(page, 2, 'current');

    // Check runs the step's check now: the HTTP answer is only an acknowledgement (202); the outcome,
    // the same words, comes on the session channel, and the button is usable again after it.
    const answered = page.waitForResponse((res) => res.url().endsWith('/check') && res.request().method() === 'POST');
    await guide('check-button').click();
    assert.equal((await answered).status(), 202);
    await page.locator('tl-guide [data-testid=check-button]:not([disabled])').waitFor();
    assert.match(await feedback.textContent() ?? '', /hello\.txt is still in \/root/);
  });

  test('hints come one at a time', async (t) => {
    if (!needsLab(t)) return;
    assert.equal(await guide('hint').count(), 0);
    await guide('hint-button').click();
    assert.deepEqual(await guide('hint').locator('.hint-label').allTextContents(), ['Hint 1 of 2']);
    assert.match(await guide('hint').first().textContent() ?? '', /mkdir NAME makes a folder/);
    await guide('hint-button').click();
    assert.deepEqual(await guide('hint').locator('.hint-label').allTextContents(), ['Hint 1 of 2', 'Hint 2 of 2']);
    assert.equal(await guide('hint-button').count(), 0, 'no more hints to give');
  });

  test('a done step can be looked at again', async (t) => {
    if (!needsLab(t)) return;
    await guideStep(page, 1).click();
    assert.equal(await guide('step-content').getAttribute('data-step'), '1');
    assert.equal(await guide('check-button').count(), 0, 'no Check on a done step');
    await page.locator('tl-guide .foot button', { hasText: 'Back to step 2' }).click();
    assert.equal(await guide('step-content').getAttribute('data-step'), '2');
    // Pending steps cannot be opened.
    assert.equal(await guideStep(page, 3).isDisabled(), true);
  });

  test('after a reload the progress is kept', async (t) => {
    if (!needsLab(t)) return;
    await page.reload();
    await waitForStep(page, 1, 'done');
    await waitForStep(page, 2, 'current');
    assert.deepEqual(await guideProgress(page), { done: 1, total: 3 });
    assert.equal(await guide('step-content').getAttribute('data-step'), '2');
  });

  test('Show me types the solution and the step turns done', async (t) => {
    if (!needsLab(t)) return;
    await page.locator('[data-testid=terminal-status][data-state=connected]').waitFor();
    await guide('show-me').click();
    await waitForLine(page, 'root@lab:~# mkdir -p /root/notes && mv /root/hello.txt /root/notes/');
    await waitForStep(page, 2, 'done');
    await waitForStep(page, 3, 'current');
    assert.equal(await guide('check-feedback').count(), 0, 'no "not yet" once the step is done');
  });

  test('the last step done shows the finish page', async (t) => {
    if (!needsLab(t)) return;
    await guide('show-me').click();
    await guide('lab-finished').waitFor({ timeout: 30_000 });
    await waitForStep(page, 3, 'done');
    assert.deepEqual(await guideProgress(page), { done: 3, total: 3 });
    assert.match(await guide('lab-finished').textContent() ?? '', /You made a file, moved it into a folder/);
    assert.equal(await guide('check-button').count(), 0);
    assert.deepEqual(errors, []);
  });
});

test('a narrow screen stacks the guide above the terminal', async () => {
  const { context, page, errors } = await newPage({ width: 420, height: 800 });
  try {
    await startLab(page, server.url, 'hello');
    const g = await page.locator('tl-guide').boundingBox();
    const t = await page.locator('tl-terminal').boundingBox();
    assert.ok(g && t && g.y + g.height <= t.y, 'guide above the terminal');
    assert.ok(g.width > 380 && t.width > 380, 'both take the full width');
    assert.ok(t.height > 250, `terminal height ${t.height}`);
    // Typing in the terminal still works.
    await typeLine(page, 'echo narrow-$((2+3))');
    await waitForLine(page, 'narrow-5');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('a lab with several terminals shows them in tabs, all connected', async () => {
  const labs = await (await fetch(`${server.url}/api/labs`)).json() as LabListResponse;
  const lab = labs.labs.find((l) => l.id === 'networks');
  assert.ok(lab, 'the networks lab (two hosts) is listed');
  const { context, page, errors } = await newPage();
  try {
    await page.goto(server.url);
    await page.locator('[data-testid=start-networks]').click();
    const tabs = page.locator('[data-testid^=tab-]');
    await tabs.first().waitFor({ timeout: 120_000 });
    const ids = (await tabs.evaluateAll((els) => els.map((e) => e.getAttribute('data-testid')!.slice('tab-'.length))));
    assert.ok(ids.length >= 2, `tabs: ${ids.join(', ')}`);
    // Every terminal connects, the hidden ones too.
    for (const id of ids) {
      await terminalById(page, id).locator('[data-testid=terminal-status][data-state=connected]').waitFor({ state: 'attached', timeout: 120_000 });
    }
    const [first, second] = ids as [string, string];
    assert.equal(await terminalById(page, first).getAttribute('active'), '');
    assert.equal(await terminalById(page, second).getAttribute('active'), null);

    const hostname = async () => {
      await until('a prompt', async () => (await terminalLines(page)).at(-1)?.includes('#'), 30_000, 100);
      await typeLine(page, 'echo "host=$(hostname)"');
      return (await waitForLine(page, /^host=\S+$/)).slice('host='.length);
    };
    await page.evaluate(() => { (globalThis as unknown as PageGlobals).__termlab = undefined; });
    await page.locator(`[data-testid=tab-${second}]`).click();
    assert.equal(await terminalById(page, second).getAttribute('active'), '');
    const secondHost = await hostname();
    await page.locator(`[data-testid=tab-${first}]`).click();
    const firstHost = await hostname();
    assert.notEqual(firstHost, secondHost, 'the tabs are shells on different hosts');
    // Switching tabs kept the other terminal: its output is still there.
    await page.locator(`[data-testid=tab-${second}]`).click();
    await waitForLine(page, `host=${secondHost}`);
    assert.equal(await terminalById(page, first).locator('[data-testid=terminal-status]').getAttribute('data-state'), 'connected');

    // Run on a block for another terminal (what the guide's Run buttons fire) types there and
    // brings its tab forward. The lab's first step only runs in the first terminal: fire it here.
    await page.locator(`[data-testid=tab-${first}]`).click();
    const handled = await page.locator('tl-guide').evaluate((guide, terminal) => !guide.dispatchEvent(new CustomEvent('tl-type-input', {
      detail: { terminal, text: 'echo "ran-in=$(hostname)"', interrupt: true }, bubbles: true, composed: true, cancelable: true,
    })), second);
    assert.equal(handled, true, 'the page typed it');
    assert.equal(await terminalById(page, second).getAttribute('active'), '');
    await waitForLine(page, `ran-in=${secondHost}`);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

describe('guide Markdown', () => {
  let page: Page;
  let context: BrowserContext;

  before(async () => {
    // The page's Markdown module, bundled on its own and loaded into an empty page.
    const bundle = await esbuild.build({
      absWorkingDir: ROOT,
      entryPoints: [path.join(ROOT, 'web', 'lab', 'markdown.ts')],
      bundle: true, format: 'iife', globalName: 'tlMarkdown', platform: 'browser', target: 'es2022', write: false,
      tsconfig: path.join(ROOT, 'web', 'tsconfig.json'), logLevel: 'silent',
    });
    ({ context, page } = await newPage());
    await page.setContent('<!doctype html><body></body>');
    await page.addScriptTag({ content: bundle.outputFiles[0]!.text });
  });
  after(async () => {
    await context?.close().catch(() => {});
  });

  interface Rendered { html: string; blocks: unknown[]; pres: Array<string | null> }
  async function render(source: string, hosts = ['lab']): Promise<Rendered> {
    return page.evaluate(({ source, hosts }) => {
      interface Md {
        renderMarkdown(s: string, ctx: { session: string; hosts: string[] }): { element: { innerHTML: string; querySelectorAll(q: string): Iterable<{ getAttribute(a: string): string | null }> }; blocks: unknown[] };
      }
      const md = (globalThis as unknown as { tlMarkdown: Md }).tlMarkdown;
      const out = md.renderMarkdown(source, { session: 's1', hosts });
      return {
        html: out.element.innerHTML,
        blocks: out.blocks,
        pres: [...out.element.querySelectorAll('pre')].map((p) => p.getAttribute('data-tl-block')),
      };
    }, { source, hosts });
  }

  test('code fences keep their actions; the text is exact', async () => {
    const out = await render('Go:\n\n```bash exec terminal=host2 interrupt\necho "<b>hi</b>" && ls\nsecond line\n```\n\n```\nplain\n```\n');
    assert.deepEqual(out.blocks, [
      { language: 'bash', exec: true, terminal: 'host2', interrupt: true, text: 'echo "<b>hi</b>" && ls\nsecond line' },
      { language: '', exec: false, interrupt: false, text: 'plain' },
    ]);
    assert.match(out.html, /&lt;b&gt;hi&lt;\/b&gt;/, 'code shown as text');
    assert.ok(out.pres.every((p) => p && /^\d+:\d$/.test(p)));
  });

  test('HTML in the text is sanitised; a forged code block gets no actions', async () => {
    const out = await render('<img src=x onerror="alert(1)"><script>alert(2)</script><a href="javascript:alert(3)">x</a>'
      + '<style>*{display:none}</style><button data-testid="run">Run</button><p style="position:fixed">p</p>\n\n<pre data-tl-block="1:0">forged</pre>\n');
    assert.doesNotMatch(out.html, /onerror|<script|javascript:|<style|<button|style=/);
    assert.deepEqual(out.blocks, []);
    assert.deepEqual(out.pres, [null]);
  });

  test('port links point at the session\'s port path in a new tab; other links open in a new tab', async () => {
    const out = await render('[site](port://8080) [api](port://host2:3000/v1?x=1) [bad](port://99999) [docs](https://example.com/a)', ['host1', 'host2']);
    assert.match(out.html, /<a href="\/p\/s1\/host1\/8080\/" target="_blank" rel="noopener">site<\/a>/);
    assert.match(out.html, /<a href="\/p\/s1\/host2\/3000\/v1\?x=1" target="_blank" rel="noopener">api<\/a>/);
    assert.match(out.html, /<a>bad<\/a>/);
    assert.match(out.html, /<a href="https:\/\/example.com\/a" target="_blank" rel="noopener noreferrer">docs<\/a>/);
  });

  test('typed commands end each line with Enter', () => {
    assert.deepEqual(commandLines('mkdir a\nmv b a/\n'), ['mkdir a\r', 'mv b a/\r']);
    assert.deepEqual(commandLines('one\r\ntwo'), ['one\r', 'two\r']);
  });
});
