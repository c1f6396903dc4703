// The page in a real Chromium against a real lab server and real `hello` boxes: typing, resizing,
// reloading, ending, Unicode, colours, links and a network blip.
//   node --import tsx --test --test-timeout=300000 test/web/terminal.test.ts
import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { LabServer } from '../../server/lab-server.js';
import {
  cellCenter, collectPageErrors, retryNavigationOnNetworkChange, countLines, reportCspViolations, ensureWebBuilt, lastRowIndex, launchBrowser,
  run, startLab, startNetworkLink, storedSession, terminalLines, terminalSize, typeLine, waitForLine, waitForPrompt,
  waitForState, type PageGlobals, type PageTerm,
} from '../helpers/browser.js';
import { startTestServer, stopAndListLeftovers, testInstance, until } from '../helpers/lab-server.js';

const instance = testInstance();
let server: LabServer;
let browser: Browser;
/** Contexts opened by the running test, and what else to undo after it (after the contexts close). */
const contexts: BrowserContext[] = [];
const cleanups: Array<() => Promise<void>> = [];

before(async () => {
  ensureWebBuilt();
  server = await startTestServer({ instance });
  browser = await launchBrowser();
});

afterEach(async () => {
  await Promise.all(contexts.splice(0).map((c) => c.close().catch(() => {})));
  for (const cleanup of cleanups.splice(0)) await cleanup();
  // Sessions a test left running end here, so no box outlives its test.
  if (server) await Promise.all(server.sessions.sessions().map((s) => server.sessions.end(s, 'ended')));
});

after(async () => {
  await browser?.close().catch(() => {});
  const left = await stopAndListLeftovers(server);
  assert.deepEqual(left, [], 'containers left behind');
});

async function newPage(viewport = { width: 1280, height: 800 }): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport });
  contexts.push(context);
  const page = await context.newPage();
  await reportCspViolations(page);
  retryNavigationOnNetworkChange(page);
  return { context, page, errors: collectPageErrors(page) };
}

test('the page runs under its Content-Security-Policy without a violation', async () => {
  const { page, errors } = await newPage();
  const answer = await page.goto(server.url);
  assert.match(answer?.headers()['content-security-policy'] ?? '', /default-src 'self'.*frame-ancestors 'none'/);
  await page.locator('[data-testid=start-hello]').click();
  await waitForState(page, 'connected', 120_000);
  await waitForPrompt(page);
  await run(page, 'printf "\\e[1;32mgreen\\e[0m %s\\n" https://example.com/csp');
  assert.deepEqual(errors, [], 'no CSP violation or page error');
  // The watch is live: an injected inline script, which the CSP forbids, is refused and reported.
  const ran = await page.evaluate(`(() => { const s = document.createElement('script'); s.textContent = 'window.__inline = 1'; document.head.append(s); return window.__inline === 1; })()`);
  assert.equal(ran, false);
  await until('the violation to be reported', () => errors.some((e) => /CSP violation: script-src/.test(e)));
});

/** The server's session for the page (from the id the page keeps in sessionStorage). */
async function sessionOf(page: Page) {
  const stored = await storedSession(page);
  assert.ok(stored, 'the page keeps its session in sessionStorage');
  const session = server.sessions.byId(stored.id);
  assert.ok(session, `session ${stored.id} is live on the server`);
  return session;
}

test('a chunk or a GET the browser aborted (a network change) is fetched again: the lab list and the lab still open', async () => {
  const { page, errors } = await newPage();
  // As Chromium does when a box's bridge comes or goes: the first try of each fails as a network error.
  const aborted: string[] = [];
  const abortOnce = (pattern: RegExp) => page.route(pattern, async (route) => {
    if (aborted.includes(String(pattern))) return route.continue();
    aborted.push(String(pattern));
    return route.abort('internetdisconnected');
  });
  await abortOnce(/\/api\/labs$/);
  await abortOnce(/\/chunks\/tl-lab-page-[^/]*\.js$/);
  await startLab(page, server.url, 'hello');
  await run(page, 'echo survived-$((6*7))');
  await waitForLine(page, 'survived-42');
  assert.deepEqual(aborted.length, 2, 'both were aborted once');
  // Only the aborted loads' own console lines: no page error, and nothing else failed.
  assert.deepEqual(errors.filter((e) => !/ERR_INTERNET_DISCONNECTED/.test(e)), []);
});

test('start the hello lab and run a command', async () => {
  const { page, errors } = await newPage();
  await page.goto(server.url);
  await page.locator('[data-testid=lab-hello]').waitFor();
  await page.locator('[data-testid=start-hello]').click();
  await waitForState(page, 'connected', 120_000);
  await waitForPrompt(page);
  // The terminal takes the keyboard focus by itself once connected.
  await page.keyboard.type('echo $((6*7))');
  await page.keyboard.press('Enter');
  await waitForLine(page, '42');
  const lines = await terminalLines(page);
  assert.ok(lines.includes('root@lab:~# echo $((6*7))'), 'the command line is echoed');
  assert.deepEqual(errors, []);
});

test('resizing the viewport resizes the shell\'s terminal', async () => {
  const { page } = await newPage({ width: 1280, height: 800 });
  await startLab(page, server.url, 'hello');
  const big = await terminalSize(page);
  await run(page, 'stty size');
  await waitForLine(page, `${big.rows} ${big.cols}`);

  await page.setViewportSize({ width: 800, height: 600 });
  const small = await until('the terminal to fit the smaller viewport', async () => {
    const size = await terminalSize(page);
    return size.cols < big.cols && size.rows < big.rows ? size : undefined;
  });
  // The size reaches the server after a short debounce: ask the shell until it agrees.
  await until(`stty size to say ${small.rows} ${small.cols}`, async () => {
    const lines = await run(page, 'stty size');
    return lines.at(-2) === `${small.rows} ${small.cols}`;
  }, 15_000);
  // The status line shows the size too.
  const shown = await page.locator('tl-terminal .size').textContent();
  assert.equal(shown?.trim(), `${small.cols}×${small.rows}`);
});

test('reloading the page rejoins the same shell and shows earlier output once', async () => {
  const { page, errors } = await newPage();
  await startLab(page, server.url, 'hello');
  const before = await sessionOf(page);
  await run(page, 'X=kept-$((40+2))');
  await run(page, 'echo marker-1234');
  await waitForLine(page, 'marker-1234');

  await page.reload();
  await waitForState(page, 'connected');
  await waitForLine(page, 'marker-1234');
  await waitForPrompt(page);
  assert.equal((await sessionOf(page)).id, before.id, 'the same session after the reload');
  const lines = await run(page, 'echo $X');
  assert.equal(lines.at(-2), 'kept-42', 'the shell variable survived the reload');
  assert.equal(countLines(lines, 'marker-1234'), 1, `marker output exactly once:\n${lines.join('\n')}`);
  assert.deepEqual(errors, []);
});

test('End lab removes the box and goes back to the lab list', async () => {
  const { page } = await newPage();
  await startLab(page, server.url, 'hello');
  const session = await sessionOf(page);
  const docker = server.driver.docker;
  assert.equal((await docker.getContainer(session.box.id).inspect()).State.Running, true);

  await page.locator('[data-testid=end-lab]').click();
  await page.locator('[data-testid=start-hello]').waitFor({ timeout: 30_000 });
  assert.equal(await page.locator('[data-testid=end-lab]').count(), 0);
  assert.equal(await page.locator('tl-terminal').count(), 0);
  assert.equal(await storedSession(page), null, 'the page forgot the session');
  assert.equal(server.sessions.byId(session.id), undefined, 'the server ended the session');

  await assert.rejects(docker.getContainer(session.box.id).inspect(), (err: { statusCode?: number }) => err.statusCode === 404);
  const all = await docker.listContainers({ all: true });
  assert.equal(all.some((c) => c.Id === session.box.id), false);

  // A reload stays on the list.
  await page.reload();
  await page.locator('[data-testid=start-hello]').waitFor();
  assert.equal(await page.locator('tl-terminal').count(), 0);
});

test('UTF-8 output and input', async () => {
  const { page } = await newPage();
  await startLab(page, server.url, 'hello');
  await run(page, String.raw`printf 'h\u00e9llo \u2713\n'`);
  await waitForLine(page, 'héllo ✓');
  // Typed non-ASCII goes through xterm.js' input as UTF-8 too.
  await run(page, 'echo ünï-✓-日本');
  await waitForLine(page, 'ünï-✓-日本');
  // Wide characters take two cells each.
  const width = await page.evaluate(() => {
    const buf = (globalThis as unknown as PageGlobals).__termlab!.term.buffer.active;
    for (let i = buf.length - 1; i >= 0; i--) {
      const line = buf.getLine(i)!;
      if (line.translateToString(true) === 'ünï-✓-日本') return line.getCell(6)?.getWidth();
    }
    return undefined;
  });
  assert.equal(width, 2);
});

test('ANSI colours reach the terminal cells', async () => {
  const { page } = await newPage();
  await startLab(page, server.url, 'hello');
  await run(page, String.raw`printf '\e[31mred\e[0m plain\n'`);
  await waitForLine(page, 'red plain');
  const cells = await page.evaluate(() => {
    const buf = (globalThis as unknown as PageGlobals).__termlab!.term.buffer.active;
    for (let i = buf.length - 1; i >= 0; i--) {
      const line = buf.getLine(i)!;
      if (line.translateToString(true) !== 'red plain') continue;
      // (No helper functions in here: tsx's __name wrapper does not exist in the page.)
      const [r, d, p] = [0, 2, 4].map((x) => line.getCell(x)!)
        .map((c) => ({ ch: c.getChars(), fg: c.getFgColor(), palette: c.isFgPalette(), dflt: c.isFgDefault() }));
      return { r: r!, d: d!, p: p! };
    }
    return undefined;
  });
  assert.ok(cells, 'the coloured line is in the buffer');
  assert.deepEqual(cells.r, { ch: 'r', fg: 1, palette: true, dflt: false });
  assert.deepEqual(cells.d, { ch: 'd', fg: 1, palette: true, dflt: false });
  assert.equal(cells.p.ch, 'p');
  assert.equal(cells.p.dflt, true, 'the colour was reset');
});

test('URLs are links that open in a new tab, not in the page', async () => {
  const { context, page } = await newPage();
  // Nothing leaves the machine: the link's target is answered here.
  await context.route('https://example.invalid/**', (route) => route.fulfill({ status: 200, contentType: 'text/plain', body: 'stub' }));
  await startLab(page, server.url, 'hello');
  await run(page, 'echo https://example.invalid/x');
  await waitForLine(page, 'https://example.invalid/x');
  const row = await lastRowIndex(page, 'https://example.invalid/x');
  assert.ok(row >= 0);
  const pageUrl = page.url();

  // Hovering the URL makes it a link: xterm.js shows the pointer cursor over it.
  const link = await cellCenter(page, row, 10);
  await page.mouse.move(link.x, link.y);
  await page.locator('tl-terminal .xterm-cursor-pointer').waitFor({ state: 'attached', timeout: 10_000 });
  // Off the link, the pointer goes away.
  const blank = await cellCenter(page, row, 40);
  await page.mouse.move(blank.x, blank.y);
  await page.locator('tl-terminal .xterm-cursor-pointer').waitFor({ state: 'detached', timeout: 10_000 });

  await page.mouse.move(link.x, link.y);
  await page.locator('tl-terminal .xterm-cursor-pointer').waitFor({ state: 'attached', timeout: 10_000 });
  const [popup] = await Promise.all([context.waitForEvent('page', { timeout: 10_000 }), page.mouse.click(link.x, link.y)]);
  await until('the new tab to load the link', () => popup.url() === 'https://example.invalid/x' || undefined, 10_000);
  assert.equal(await popup.evaluate(() => (globalThis as unknown as { opener: unknown }).opener), null, 'the new tab cannot reach the page');
  await popup.close();
  assert.equal(page.url(), pageUrl, 'the page did not navigate');
  assert.equal(await page.evaluate(() => (globalThis as unknown as PageGlobals).location.href), pageUrl);
  await waitForState(page, 'connected', 1000);
});

test('a network blip: reconnects, resumes, and shows every line exactly once', async () => {
  // The page talks to the server through a link the test can cut, like a dropped Wi-Fi.
  const link = await startNetworkLink(server.url);
  cleanups.push(() => link.close());
  const { context, page, errors } = await newPage();
  await startLab(page, link.url, 'hello');
  const session = await sessionOf(page);
  await run(page, 'echo before-$((2*50))');
  await waitForLine(page, 'before-100');

  // Output that the shell produces while the browser is away.
  const stream = session.existingTerminals()[0]!;
  let serverSaw = '';
  const unsubscribe = stream.onOutput((_offset, bytes) => { serverSaw += Buffer.from(bytes).toString(); });
  try {
    await typeLine(page, 'sleep 2; echo during-$((3*50))');
    // The shell has the whole line (Enter included) before the network goes.
    await until('the shell to echo the command', () => serverSaw.includes('echo during-$((3*50))\r\n'), 10_000);

    await context.setOffline(true);
    link.cut();
    await waitForState(page, 'reconnecting', 10_000);
    // Reconnecting fails while the network is down (the attempts count up) ...
    await page.locator('[data-testid=terminal-status]', { hasText: /attempt [2-9]/ }).waitFor({ timeout: 10_000 });
    // ... and the shell goes on: the output exists on the server, not yet in the page.
    await until('the shell to print during-150', () => serverSaw.includes('during-150\r\n'), 15_000);
    assert.equal(countLines(await terminalLines(page), 'during-150'), 0);
    assert.equal(await page.locator('[data-testid=terminal-status]').getAttribute('data-state'), 'reconnecting');
  } finally {
    unsubscribe();
    link.restore();
    await context.setOffline(false);
  }

  await waitForState(page, 'connected', 15_000);
  await waitForLine(page, 'during-150');
  await waitForPrompt(page);
  const lines = await run(page, 'echo after-$((4*50))');
  assert.equal(lines.at(-2), 'after-200');
  for (const line of ['before-100', 'during-150', 'after-200', 'root@lab:~# echo before-$((2*50))', 'root@lab:~# sleep 2; echo during-$((3*50))']) {
    assert.equal(countLines(lines, line), 1, `"${line}" exactly once:\n${lines.join('\n')}`);
  }
  assert.equal((await sessionOf(page)).id, session.id, 'the same session');
  // Chromium logs the failed connection attempts; nothing else may be logged as an error.
  assert.deepEqual(errors.filter((e) => !/^console: WebSocket connection to .* failed/.test(e)), []);
});

test('plain lines that scroll out unseen are skipped, and the scrollback holds every last line in order', async () => {
  const { page, errors } = await newPage();
  await startLab(page, server.url, 'hello');
  type Counted = { __termlab: { term: { write(data: string | Uint8Array, cb?: () => void): void; buffer: PageTerm['buffer'] }; connection: { outputOffset: number } }; __count: { from: number; written: number } };
  // Count what reaches the page and what is written into xterm.js from here on.
  await page.evaluate(() => {
    const g = globalThis as unknown as Counted;
    const { term, connection } = g.__termlab;
    g.__count = { from: connection.outputOffset, written: 0 };
    const write = term.write.bind(term);
    term.write = (data, cb) => { g.__count.written += data.length; write(data, cb); };
  });
  await typeLine(page, 'seq 1 300000; echo seq-done-$((6*7))');
  // The page falls behind, as a slow laptop would: its main thread is busy for a moment while the
  // output goes on arriving (up to the flow-control window), so a backlog waits for xterm.js.
  await page.waitForFunction(() => { const g = globalThis as unknown as Counted; return g.__termlab.connection.outputOffset - g.__count.from > 100_000; });
  await page.evaluate(() => { const t0 = performance.now(); while (performance.now() - t0 < 1000) { /* busy */ } });
  await waitForLine(page, 'seq-done-42', 60_000);
  const { lines, received, written, length } = await page.evaluate(() => {
    const g = globalThis as unknown as Counted;
    const b = g.__termlab.term.buffer.active;
    const out: string[] = [];
    for (let i = 0; i < b.length; i++) out.push(b.getLine(i)?.translateToString(true) ?? '');
    return { lines: out, received: g.__termlab.connection.outputOffset - g.__count.from, written: g.__count.written, length: b.length };
  });
  // Every line the buffer holds, up to the marker, is the next number: nothing skipped that should show.
  const numbers = lines.slice(0, lines.indexOf('seq-done-42')).filter((l) => /^\d+$/.test(l)).map(Number);
  assert.equal(numbers.at(-1), 300000);
  assert.ok(numbers.length > length - 100, `${numbers.length} numbered lines in a buffer of ${length}`);
  numbers.forEach((n, i) => { if (i > 0) assert.equal(n, numbers[i - 1]! + 1, `line ${i} follows line ${i - 1}`); });
  // And the backlog mostly never went through xterm.js's parser and renderer.
  assert.ok(received > 1_900_000, `received ${received} bytes`);
  assert.ok(received - written > 200_000, `written ${written} of ${received} bytes`);
  assert.deepEqual(errors, []);
});

test('a yes flood keeps the page responsive and Ctrl-C stops it promptly', async (t) => {
  const { page, errors } = await newPage();
  await startLab(page, server.url, 'hello');
  await typeLine(page, 'yes flood-line-xyz');
  await waitForLine(page, 'flood-line-xyz');
  await new Promise((r) => setTimeout(r, 2000));
  // The page still answers while the flood runs: a round trip through its event loop is quick.
  const t0 = Date.now();
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(null))));
  const frameMs = Date.now() - t0;
  assert.ok(frameMs < 2000, `a frame took ${frameMs} ms during the flood`);
  const ctrlC = Date.now();
  await page.keyboard.press('Control+C');
  // (The scrollback is full now, so wait for the line itself rather than for the buffer to grow.)
  await typeLine(page, 'echo after-flood-$((6*7))');
  await waitForLine(page, 'after-flood-42', 15_000);
  t.diagnostic(`Ctrl-C to the next command's output: ${Date.now() - ctrlC} ms; a frame during the flood: ${frameMs} ms`);
  assert.deepEqual(errors, []);
});
