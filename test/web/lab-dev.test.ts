// Live reload (`npm run labs -- dev <lab>`) in a real Chromium against a real server and box: an
// author edits the current step of a temp copy of labs/hello on disk; the guide changes and the new
// check runs, while the terminal keeps what was typed (same session). A broken file shows its problem
// with file and line beside the step (lab.yaml's at the top of the guide); fixing it clears it.
//   node --import tsx --test --test-timeout=300000 test/web/lab-dev.test.ts
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import type { LabServer } from '../../server/lab-server.js';
import {
  ensureWebBuilt, guideStep, launchBrowser, openPage, run, storedSession, terminalLines, waitForPrompt, waitForState, waitForStep, type PageGlobals,
} from '../helpers/browser.js';
import { editFile, startTestServer, stopAndListLeftovers } from '../helpers/lab-server.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const labsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'termlab-dev-web-'));
const labDir = path.join(labsDir, 'hello');
const stepFile = path.join(labDir, 'steps', '01-file.md');
let server: LabServer;
let browser: Browser;

before(async () => {
  ensureWebBuilt();
  fs.cpSync(path.join(ROOT, 'labs', 'hello'), labDir, { recursive: true });
  server = await startTestServer({ labsDir, devLab: 'hello' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close().catch(() => {});
  const left = await stopAndListLeftovers(server);
  fs.rmSync(labsDir, { recursive: true, force: true });
  assert.deepEqual(left, [], 'containers left behind');
});

test('editing the current step updates the guide and re-runs its check, keeping the terminal; a broken file shows file:line until fixed', async () => {
  const { context, page, errors } = await openPage(browser);
  const guide = (testId: string) => page.locator(`tl-guide [data-testid=${testId}]`);
  try {
    // The address `labs dev` prints starts the lab by itself, then leaves the address bare (a reload rejoins).
    await page.goto(`${server.url}/?start=hello`);
    await waitForState(page, 'connected', 120_000);
    await waitForPrompt(page, 120_000);
    await waitForStep(page, 1, 'current');
    assert.equal(await page.evaluate(() => (globalThis as unknown as PageGlobals).location.href), `${server.url}/`);
    const session = await storedSession(page);
    assert.ok(session);
    await run(page, 'echo typed-$((6*7))');
    assert.ok((await terminalLines(page)).includes('typed-42'));

    // The author edits the step's title, text and check.
    editFile(stepFile, /^title: Make a file$/m, 'title: Make a file, edited');
    editFile(stepFile, /^check: \|\n/m, 'check: |\n  echo "the edited check answers"; exit 1\n');
    editFile(stepFile, 'Write the word', 'Now write the word');
    await guide('step-content').filter({ hasText: 'Now write the word' }).waitFor({ timeout: 15_000 });
    assert.match(await guideStep(page, 1).textContent() ?? '', /Make a file, edited/);
    assert.equal((await page.locator('tl-guide h3').textContent())?.trim(), 'Make a file, edited');
    // The new check ran by itself: its words are the feedback.
    await guide('check-feedback').filter({ hasText: 'the edited check answers' }).waitFor({ timeout: 15_000 });
    await waitForStep(page, 1, 'current');
    // Same session, same shell: what was typed is still on the screen.
    assert.deepEqual(await storedSession(page), session);
    assert.ok((await terminalLines(page)).includes('typed-42'), 'the terminal kept its content');
    await run(page, 'echo still-$((1+1))');
    assert.ok((await terminalLines(page)).includes('still-2'));

    // Broken front matter: the problem, with file and line, beside step 1; the guide keeps the last good version.
    const lines = fs.readFileSync(stepFile, 'utf8').split('\n');
    lines.splice(1, 0, 'colour: red');
    fs.writeFileSync(stepFile, lines.join('\n'));
    const problem = page.locator('tl-guide [data-testid=step-problems-1] [data-testid=problem]');
    await problem.waitFor({ timeout: 15_000 });
    assert.equal((await problem.textContent())?.trim(), 'hello/steps/01-file.md:2: unknown field "colour"');
    assert.match(await guide('step-content').textContent() ?? '', /Now write the word/);

    // Fixed: the problem goes.
    editFile(stepFile, 'colour: red\n', '');
    await page.locator('tl-guide [data-testid=step-problems-1]').waitFor({ state: 'detached', timeout: 15_000 });

    // A lab-level file: its problem at the top of the guide, until fixed.
    const labYaml = path.join(labDir, 'lab.yaml');
    editFile(labYaml, 'profile: shell', 'profile: shell\nsandbox: big');
    const top = page.locator('tl-guide [data-testid=lab-problems] [data-testid=problem]');
    await top.waitFor({ timeout: 15_000 });
    assert.equal((await top.textContent())?.trim(), 'hello/lab.yaml:4: unknown field "sandbox"');
    editFile(labYaml, 'profile: shell\nsandbox: big', 'profile: shell');
    await page.locator('tl-guide [data-testid=lab-problems]').waitFor({ state: 'detached', timeout: 15_000 });

    assert.deepEqual(await storedSession(page), session, 'one session all along');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
