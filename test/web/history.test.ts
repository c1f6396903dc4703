// Self-paced learners keep their place (issue 12), in a real Chromium against a real lab server and
// boxes, with the fixture labs of test/fixtures/history-labs: a learner passes three steps, leaves,
// and the box is removed as an idle timeout does; the lab list says where they were, "Continue from
// step 4" brings a fresh box there (the page shows the replay), the files of steps 1-3 are in it, and
// the finished lab gets a proof of completion that verifies (and a tampered one does not). A lab
// whose replay fails offers to start over. My progress: the display name, erasing the history (its
// proofs then stop verifying). Extending a lab near the end of its lifetime, until none are left.
//   node --import tsx --test --test-timeout=600000 test/web/history.test.ts
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { loadConfig } from '../../server/config.js';
import type { LabServer } from '../../server/lab-server.js';
import {
  describePage, ensureWebBuilt, guideStep, launchBrowser, openPage, run, storedSession, terminalLines, waitForPrompt,
  waitForState, waitForStep, type OpenPage,
} from '../helpers/browser.js';
import { editFile, startTestServer, stopAndListLeftovers, testInstance, until } from '../helpers/lab-server.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'termlab-history-web-'));
const labsDir = path.join(tmp, 'labs');
/** A box with no browser attached is removed after this long: the test's stand-in for leaving for the day. */
const IDLE_TIMEOUT_MS = 8000;
let server: LabServer;
let browser: Browser;

before(async () => {
  ensureWebBuilt();
  fs.cpSync(path.join(ROOT, 'test', 'fixtures', 'history-labs'), labsDir, { recursive: true });
  // Replaying step 1 takes a few seconds, so the page, which connects as the box is handed out, sees
  // the replay going as a learner on a busy server would (it is done in well under a second otherwise).
  editFile(path.join(labsDir, 'resume-shell', 'steps', '01-dir.md'), '  mkdir -p /root/work', '  sleep 3; mkdir -p /root/work');
  server = await startTestServer({
    instance: testInstance(), labsDir, stateDir: path.join(tmp, 'state'), idleTimeoutMs: IDLE_TIMEOUT_MS, sweepIntervalMs: 500,
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close().catch(() => {});
  const left = await stopAndListLeftovers(server);
  fs.rmSync(tmp, { recursive: true, force: true });
  assert.deepEqual(left, [], 'containers left behind');
});

/** Saves a screenshot into $TERMLAB_SCREENSHOTS, when set (to look at the pages). */
async function shot(page: Page, name: string): Promise<void> {
  const dir = process.env.TERMLAB_SCREENSHOTS;
  if (dir) await page.screenshot({ path: path.join(dir, `history-${name}.png`) });
}

const by = (page: Page, testId: string) => page.locator(`[data-testid=${testId}]`);
const text = async (page: Page, testId: string) => ((await by(page, testId).textContent()) ?? '').replace(/\s+/g, ' ').trim();

/** Waits for an element, saying what the page showed instead when it does not come. */
async function see(page: Page, testId: string, ms = 30_000): Promise<void> {
  try {
    await by(page, testId).first().waitFor({ timeout: ms });
  } catch (err) {
    throw new Error(`${testId} did not show: ${(err as Error).message}\n${await describePage(page)}`);
  }
}

/** The lab list's card state of a lab: not-started | in-progress | finished. */
async function cardState(page: Page, lab: string): Promise<string | null> {
  await see(page, `history-${lab}`);
  return by(page, `history-${lab}`).getAttribute('data-state');
}

async function openList(page: Page): Promise<void> {
  await page.goto(server.url);
  await see(page, 'lab-resume-shell');
}

/** The lab is running in the page: terminal connected, the shell's prompt shown. */
async function inLab(page: Page): Promise<void> {
  await waitForState(page, 'connected', 120_000);
  await waitForPrompt(page, 60_000);
}

/** Runs a command in the terminal and waits for the step it does to turn done. */
async function doStep(page: Page, n: number, command: string): Promise<void> {
  await run(page, command);
  await waitForStep(page, n, 'done');
}

describe('a learner keeps their place in a lab', () => {
  /** One browser (its learner cookie) all along; pages come and go as a learner's tabs do. */
  let context: BrowserContext;
  let tab: OpenPage;
  let proofUrl = '';
  const failed: string[] = [];

  /**
   * The tests tell one learner's story in order: one whose earlier part failed fails too, saying
   * which (never skipped: a broken story must not look like a shorter one that passed).
   */
  function needs(...what: string[]): void {
    const missing = what.filter((w) => failed.includes(w));
    assert.equal(missing.length, 0, `this part of the story needs ${missing.join(', ')}, which failed above`);
  }
  async function step(name: string, body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } catch (err) {
      failed.push(name);
      throw err;
    }
  }

  before(async () => {
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    tab = await openPage(browser, context);
  });
  after(async () => {
    await context?.close().catch(() => {});
  });

  test('My progress starts empty, and keeps the display name given', () => step('name', async () => {
    const { page, errors } = tab;
    await openList(page);
    assert.equal(await cardState(page, 'resume-shell'), 'not-started');
    assert.equal(await text(page, 'history-resume-shell'), 'Not started');
    assert.equal(await text(page, 'start-resume-shell'), 'Start');
    assert.equal(await by(page, 'continue-resume-shell').count(), 0);

    await by(page, 'nav-progress').click();
    await see(page, 'progress-empty');
    assert.equal(new URL(page.url()).pathname, '/progress');
    await by(page, 'display-name').fill('Ada Lovelace');
    await by(page, 'save-name').click();
    await see(page, 'name-saved');
    await page.reload();
    await see(page, 'display-name');
    await until('the saved name in the field', async () => (await by(page, 'display-name').inputValue()) === 'Ada Lovelace');
    assert.deepEqual(errors, []);
  }));

  test('steps 1-3 passed, then the box removed while no browser is attached: the list says step 4 of 4', () => step('leave', async () => {
    needs('name');
    const { page, errors } = tab;
    await openList(page);
    await by(page, 'start-resume-shell').click();
    await inLab(page);
    await waitForStep(page, 1, 'current');
    await doStep(page, 1, 'mkdir ~/work');
    await doStep(page, 2, 'echo one > ~/work/notes.txt');
    await doStep(page, 3, 'cp ~/work/notes.txt ~/work/copy.txt');
    await waitForStep(page, 4, 'current');
    const session = await storedSession(page);
    assert.ok(session, 'the page keeps its session');
    assert.deepEqual(errors, []);

    // The learner closes the tab; with no browser attached the box goes after the idle timeout.
    await page.close();
    await until('the session to be removed', async () => {
      const res = await fetch(`${server.url}/api/sessions/${session.id}`, { headers: { Authorization: `Bearer ${session.token}` } });
      return res.status === 404;
    }, IDLE_TIMEOUT_MS + 30_000, 250);

    tab = await openPage(browser, context);
    await openList(tab.page);
    assert.equal(await cardState(tab.page, 'resume-shell'), 'in-progress');
    assert.match(await text(tab.page, 'history-resume-shell'), /^In progress: step 4 of 4, (just now|1 min ago)$/);
    assert.equal(await text(tab.page, 'continue-resume-shell'), 'Continue from step 4');
    assert.equal(await text(tab.page, 'start-resume-shell'), 'Start over');
    assert.equal(await cardState(tab.page, 'unreplayable'), 'not-started');
    await shot(tab.page, 'list-in-progress');
  }));

  test('Continue from step 4: the page shows the box being brought there, lands at step 4 with 1-3 done, and the files are there', () => step('continue', async () => {
    needs('leave');
    const { page, errors } = tab;
    await by(page, 'continue-resume-shell').click();
    await see(page, 'replay-status', 60_000);
    assert.match(await text(page, 'replay-status'),
      /^Bringing your box to where you left off: step [1-3] of 3 \((Make a workspace|Write notes|Copy them)\)…$/);
    // The guide is there meanwhile, with its Check held back.
    await see(page, 'step-1');
    await shot(page, 'replaying');

    await waitForStep(page, 4, 'current', 60_000);
    await by(page, 'replay-status').waitFor({ state: 'detached' });
    for (const n of [1, 2, 3]) assert.equal(await guideStep(page, n).getAttribute('data-status'), 'done');
    assert.equal(await page.locator('tl-guide [data-testid=step-content]').getAttribute('data-step'), '4');
    assert.match(await text(page, 'session-notice'), /where you left off: go on with step 4/);
    await shot(page, 'landed');

    await inLab(page);
    await run(page, 'ls -1 ~/work; cat ~/work/copy.txt');
    const lines = await terminalLines(page);
    const at = lines.lastIndexOf('root@lab:~# ls -1 ~/work; cat ~/work/copy.txt');
    assert.deepEqual(lines.slice(at + 1, at + 4), ['copy.txt', 'notes.txt', 'one'], 'the files steps 1-3 made');

    await doStep(page, 4, 'cat ~/work/*.txt | wc -l > ~/work/count.txt');
    await see(page, 'lab-finished');
    assert.deepEqual(errors, []);
  }));

  test('the list then shows the lab finished, with its proof of completion, which verifies', () => step('proof', async () => {
    needs('continue');
    const { page, errors } = tab;
    await by(page, 'end-lab').click();
    await see(page, 'lab-resume-shell');
    assert.equal(await cardState(page, 'resume-shell'), 'finished');
    assert.match(await text(page, 'history-resume-shell'), /^Finished just now in \d+ (s|min) · Proof of completion$/);
    assert.equal(await text(page, 'start-resume-shell'), 'Start again');
    assert.equal(await by(page, 'continue-resume-shell').count(), 0);
    await shot(page, 'list-finished');

    await by(page, 'proof-resume-shell').click();
    await see(page, 'completion-verified');
    proofUrl = page.url();
    assert.match(new URL(proofUrl).pathname, /^\/completions\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    assert.equal(await text(page, 'completion-verified'), '✓Verified: issued by this termlab server');
    assert.equal(await text(page, 'completion-lab'), 'Resume, shell');
    assert.equal(await text(page, 'completion-name'), 'Ada Lovelace');
    const steps = (await by(page, 'completion-step').allTextContents()).map((s) => s.replace(/\s+/g, ' ').trim());
    assert.deepEqual(steps.map((s) => s.split(' · ')[0]), ['Make a workspace', 'Write notes', 'Copy them', 'Count the lines']);
    await shot(page, 'proof');
    // Opened afresh (a teacher the link was sent to), it says the same.
    const other = await openPage(browser);
    try {
      await other.page.goto(proofUrl);
      await see(other.page, 'completion-verified');
      assert.equal(await text(other.page, 'completion-lab'), 'Resume, shell');
      assert.deepEqual(other.errors, []);
    } finally {
      await other.context.close();
    }
    assert.deepEqual(errors, []);
  }));

  test('a proof with one character of its payload changed is not verified, and shows none of its claims', async () => {
    needs('proof');
    const other = await openPage(browser);
    try {
      const url = new URL(proofUrl);
      const token = url.pathname.split('/')[2]!;
      const i = 10;
      const tampered = `${token.slice(0, i)}${token[i] === 'A' ? 'B' : 'A'}${token.slice(i + 1)}`;
      await other.page.goto(new URL(`/completions/${tampered}`, url).href);
      await see(other.page, 'completion-not-verified');
      assert.equal(await text(other.page, 'completion-not-verified'), '✗Not verified');
      assert.match(await text(other.page, 'completion-reason'), /signature does not match/);
      assert.equal(await by(other.page, 'completion-verified').count(), 0);
      assert.equal(await by(other.page, 'completion-lab').count(), 0);
      assert.equal(await by(other.page, 'completion-step').count(), 0);
      await shot(other.page, 'proof-tampered');
      assert.deepEqual(other.errors, []);
    } finally {
      await other.context.close();
    }
  });

  test('a lab whose replay fails says so and offers to start over, which starts it afresh', () => step('unreplayable', async () => {
    needs('name');
    const { page, errors } = tab;
    await openList(page);
    await by(page, 'start-unreplayable').click();
    await inLab(page);
    await doStep(page, 1, 'touch ~/mark');
    await waitForStep(page, 2, 'current');
    await by(page, 'end-lab').click();

    await see(page, 'continue-unreplayable');
    assert.equal(await text(page, 'continue-unreplayable'), 'Continue from step 2');
    await by(page, 'continue-unreplayable').click();
    await see(page, 'replay-failed', 60_000);
    assert.match(await text(page, 'replay-failed'),
      /could not be brought to where you left off: step 1 \(Leave a mark\) failed: .+ You are at that step: do it yourself, or start over/);
    await waitForStep(page, 1, 'current');
    await shot(page, 'replay-failed');
    const failedSession = await storedSession(page);

    await by(page, 'start-over').click();
    await until('a new session', async () => (await storedSession(page))?.id !== failedSession?.id);
    await by(page, 'replay-failed').waitFor({ state: 'detached' });
    await inLab(page);
    await waitForStep(page, 1, 'current');
    assert.equal(await by(page, 'session-ended').count(), 0, 'the page did not say the lab ended');
    const gone = await fetch(`${server.url}/api/sessions/${failedSession!.id}`, { headers: { Authorization: `Bearer ${failedSession!.token}` } });
    assert.equal(gone.status, 404, 'the box that could not be replayed was ended');
    await by(page, 'end-lab').click();
    await see(page, 'lab-unreplayable');
    assert.match(await text(page, 'history-unreplayable'), /^In progress: step 1 of 2/);
    assert.deepEqual(errors, []);
  }));

  test('My progress lists the attempts; erasing the history empties it, the list says not started, and the proof stops verifying', () => step('erase', async () => {
    needs('proof');
    const { page, errors } = tab;
    await openList(page);
    await by(page, 'nav-progress').click();
    await see(page, 'attempt');
    const finished = page.locator('[data-testid=attempt][data-lab=resume-shell][data-state=finished]');
    assert.equal(await finished.count(), 1);
    assert.equal(await finished.locator('[data-testid=attempt-proof]').getAttribute('href'), new URL(proofUrl).pathname);
    assert.equal(await by(page, 'display-name').inputValue(), 'Ada Lovelace');
    await by(page, 'erase-history').click();
    await shot(page, 'progress');
    await by(page, 'erase-confirm').click();
    await see(page, 'progress-empty');
    assert.match(await text(page, 'progress-empty'), /Your history was erased/);
    assert.equal(await by(page, 'attempt').count(), 0);
    assert.equal(await by(page, 'display-name').inputValue(), '');

    await by(page, 'nav-labs').click();
    assert.equal(await cardState(page, 'resume-shell'), 'not-started');
    assert.equal(await cardState(page, 'unreplayable'), 'not-started');
    assert.equal(await by(page, 'proof-resume-shell').count(), 0);

    await page.goto(proofUrl);
    await see(page, 'completion-not-verified');
    assert.match(await text(page, 'completion-reason'), /withdrawn/);
    assert.equal(await by(page, 'completion-lab').count(), 0);
    assert.deepEqual(errors, []);
  }));

  test('a lab whose box still runs (another tab) is continued in that box, as it is', async () => {
    needs('erase');
    const { page, errors } = tab;
    await openList(page);
    await by(page, 'start-resume-shell').click();
    await inLab(page);
    await doStep(page, 1, 'mkdir ~/work');
    await run(page, 'echo kept > ~/work/live.txt');
    const running = await storedSession(page);

    const second = await openPage(browser, context);
    try {
      await openList(second.page);
      assert.match(await text(second.page, 'history-resume-shell'), /^In progress: step 2 of 4/);
      assert.equal(await text(second.page, 'continue-resume-shell'), 'Continue');
      await by(second.page, 'continue-resume-shell').click();
      await inLab(second.page);
      assert.equal((await storedSession(second.page))?.id, running?.id, 'the same session');
      await waitForStep(second.page, 2, 'current');
      assert.equal(await by(second.page, 'replay-status').count(), 0, 'nothing to replay');
      await run(second.page, 'cat ~/work/live.txt');
      assert.ok((await terminalLines(second.page)).includes('kept'));
      await by(second.page, 'end-lab').click();
      await see(second.page, 'lab-resume-shell');
      assert.deepEqual(second.errors, []);
    } finally {
      await second.page.close();
    }
    await see(page, 'session-ended');
    assert.deepEqual(errors, []);
  });
});

describe('a lab near the end of its lifetime', () => {
  let short: LabServer | undefined;
  after(async () => {
    const left = await stopAndListLeftovers(short);
    assert.deepEqual(left, [], 'containers left behind');
  });

  test('warns, extends by the configured time once, then says it cannot be extended any more', async () => {
    // 40 s: the warning comes in the last quarter (10 s); one extension of 20 s, then the last quarter of 60 s.
    short = await startTestServer({
      instance: testInstance(), labsDir, stateDir: path.join(tmp, 'state-short'), maxLifetimeMs: 40_000,
      history: { ...loadConfig().history, extensions: 1, extendMs: 20_000 },
    });
    const { context, page, errors } = await openPage(browser);
    try {
      await page.goto(short.url);
      await by(page, 'start-resume-shell').click();
      await inLab(page);
      // The time left says what leaving costs (once the lifetime has come on the session channel).
      await until('the idle timeout on the time left', async () => /without a browser/.test(await by(page, 'time-left').getAttribute('title') ?? ''));
      assert.equal(await by(page, 'time-left').getAttribute('title'),
        'Until this lab ends. This box is removed after 15 min without a browser: your progress is kept and you can continue later.');
      assert.equal(await by(page, 'lifetime-warning').count(), 0, 'no warning while there is time');

      await see(page, 'lifetime-warning', 90_000);
      assert.match(await text(page, 'lifetime-warning'), /This lab ends in 0:[0-2]\d and its box is removed\. Your progress is kept/);
      assert.equal(await text(page, 'extend-lab'), 'Extend by 20 s');
      await shot(page, 'lifetime-warning');
      const endsAt = Number(await by(page, 'time-left').getAttribute('data-ends-at'));
      await by(page, 'extend-lab').click();
      await until('the time left to grow', async () => Number(await by(page, 'time-left').getAttribute('data-ends-at')) >= endsAt + 20_000);
      await by(page, 'lifetime-warning').waitFor({ state: 'detached' });
      assert.match(await text(page, 'time-left'), /^0:[1-3]\d left$/);

      // The last quarter of the longer lifetime: the warning again, and no more extensions.
      await see(page, 'lifetime-warning', 90_000);
      assert.equal(await by(page, 'extend-lab').count(), 0);
      assert.equal(await text(page, 'no-extensions'), 'It cannot be extended any more.');
      await shot(page, 'no-extensions');

      // The end of the lifetime: the page says the progress is kept, and the list offers to continue.
      await see(page, 'session-ended', 60_000);
      assert.equal(await text(page, 'session-ended'),
        'The session reached its maximum lifetime and its box was removed. Your progress is kept: continue the lab from the list of labs.');
      await by(page, 'end-lab').click();
      await see(page, 'continue-resume-shell');
      assert.equal(await text(page, 'continue-resume-shell'), 'Continue from step 1');
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });
});
