// Workshops in real Chromium against a real lab server and boxes, with several browser contexts at
// once (an instructor and two learners): creating a workshop in the page, joining by code, the
// dashboard following the learners' progress live (and catching up after a disconnect with no
// duplicates), hands, the shadow view of a learner's terminal, broadcast, extend, a reset and the end;
// a two-lab workshop's "Next lab". The tests run in order and go on from where the one before left the room.
//   node --import tsx --test --test-timeout=600000 test/web/workshop.test.ts
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { loadConfig } from '../../server/config.js';
import type { LabServer } from '../../server/lab-server.js';
import {
  collectPageErrors, describePage, ensureWebBuilt, retryNavigationOnNetworkChange, openPage, launchBrowser, run, storedSession, waitForLine, startNetworkLink, waitForPrompt, waitForState, waitForStep,
  type NetworkLink, type OpenPage, type PageTerm,
} from '../helpers/browser.js';
import { startTestServer, stopAndListLeftovers, testInstance, until } from '../helpers/lab-server.js';

const instance = testInstance();
/** The learners' pages are warned this long before the end (short, so the end test is quick). */
const END_WARNING_MS = 3000;
/** The hello lab, and a copy of it under another name and title: a two-lab workshop on cheap shell boxes. */
const labsDir = mkdtempSync(path.join(os.tmpdir(), 'tl-workshop-web-labs-'));
let server: LabServer;
let browser: Browser;

before(async () => {
  ensureWebBuilt();
  const hello = path.resolve(import.meta.dirname, '../../labs/hello');
  cpSync(hello, path.join(labsDir, 'hello'), { recursive: true });
  cpSync(hello, path.join(labsDir, 'hello-again'), { recursive: true });
  const again = path.join(labsDir, 'hello-again', 'lab.yaml');
  writeFileSync(again, readFileSync(again, 'utf8').replace(/^title: .*$/m, 'title: Hello again'));
  server = await startTestServer({ instance, labsDir, workshops: { ...loadConfig().workshops, endWarningMs: END_WARNING_MS, reserve: 0 } });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close().catch(() => {});
  const left = await stopAndListLeftovers(server);
  rmSync(labsDir, { recursive: true, force: true });
  assert.deepEqual(left, [], 'containers left behind');
});

type Person = OpenPage;
const newPerson = (): Promise<Person> => openPage(browser);

/** TERMLAB_SCREENSHOTS=<dir> keeps a picture of each page as the tests go. */
async function shot(page: Page, name: string): Promise<void> {
  const dir = process.env.TERMLAB_SCREENSHOTS;
  if (dir) await page.screenshot({ path: path.join(dir, `workshop-${name}.png`) });
}

/** The page's stored session (web/session-store.ts), with its lab and seat. */
async function pageSession(page: Page): Promise<{ id: string; lab: string; title: string; workshop?: { seat: string } } | null> {
  return (await storedSession(page)) as Awaited<ReturnType<typeof pageSession>>;
}

/** Waits for the page to switch to another session than `from`, and for its terminal to reach a prompt. */
async function waitForNewSession(page: Page, from: string): Promise<NonNullable<Awaited<ReturnType<typeof pageSession>>>> {
  const session = await until('the page on a new session', async () => {
    const now = await pageSession(page);
    return now && now.id !== from ? now : undefined;
  }, 60_000);
  // The old terminal said "ended": the one connected is the new session's.
  await waitForState(page, 'connected');
  await waitForPrompt(page);
  return session;
}

/** The shadow view's terminal as lines (window.__termlabView, set by tl-shadow-view). */
async function viewLines(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const term = (globalThis as unknown as { __termlabView?: { term: PageTerm } }).__termlabView?.term;
    if (!term) return [];
    const lines: string[] = [];
    for (let i = 0; i < term.buffer.active.length; i++) lines.push(term.buffer.active.getLine(i)?.translateToString(true) ?? '');
    return lines;
  });
}

async function waitForViewLine(page: Page, text: string): Promise<void> {
  await until(`"${text}" in the shadow view`, async () => (await viewLines(page)).some((l) => l.trim() === text), 20_000);
}

describe('a workshop', () => {
  let instructor: Person;
  /** The instructor's network: their browser reaches the server through it, so a test can cut it. */
  let link: NetworkLink;
  const learners: Array<Person & { name: string; seat?: string }> = [];
  let code = '';
  let assistantUrl = '';
  let ready = false;
  const dash = () => instructor.page;
  const cell = (seat: string, step: number) => dash().locator(`[data-testid=cell-${seat}-${step}]`);

  type Seated = Person & { name: string; seat: string };
  function seated(): [Seated, Seated] {
    return learners as [Seated, Seated];
  }

  function needsRoom(t: TestContext): boolean {
    if (!ready) t.skip('the learners did not get into the workshop');
    return ready;
  }

  before(async () => {
    link = await startNetworkLink(server.url);
    instructor = await newPerson();
    for (const name of ['Ada', 'Brian']) learners.push({ ...(await newPerson()), name });
  });
  after(async () => {
    for (const p of [instructor, ...learners]) await p?.context.close().catch(() => {});
    await link?.close();
  });

  test('the instructor creates it in the page and opens the dashboard', async () => {
    const page = instructor.page;
    await page.goto(`${link.url}/workshops/new`);
    await page.locator('[data-testid=ws-lab-hello]').check();
    await page.locator('[data-testid=ws-title]').fill('Shell basics');
    await page.locator('[data-testid=ws-seats]').fill('3');
    await shot(page, 'new');
    await page.locator('[data-testid=ws-create]').click();
    code = (await page.locator('[data-testid=ws-code]').textContent())?.trim() ?? '';
    assert.match(code, /^[A-HJ-NP-Z2-9]{6}$/);
    assert.match(await page.locator('[data-testid=ws-instructor-link]').inputValue(), /\/workshops\/[^/]+\/enter\?k=/);
    await page.getByText('The instructor link is shown once').waitFor();
    assistantUrl = await page.locator('[data-testid=ws-assistant-link]').inputValue();
    await shot(page, 'created');

    await page.locator('[data-testid=ws-open-dashboard]').click();
    await page.locator('[data-testid=dashboard-title]', { hasText: 'Shell basics' }).waitFor();
    assert.doesNotMatch(page.url(), /k=/, 'the secret left the address bar');
    assert.equal((await page.locator('[data-testid=dashboard-code]').textContent())?.trim(), code);
    await page.locator('[data-testid=count-joined][data-value="0"]').waitFor();
  });

  test('learners join by code, each in their own browser, and land at a prompt', async () => {
    assert.ok(code, 'a workshop was created');
    const [ada, brian] = learners as [typeof learners[0], typeof learners[0]];
    // Ada types the code on the home page; Brian opens the learner link.
    await ada.page.goto(server.url);
    await ada.page.locator('[data-testid=join-code]').fill(code.toLowerCase());
    await ada.page.locator('[data-testid=join-code-go]').click();
    await brian.page.goto(`${server.url}/w/${code}`);
    for (const learner of [ada, brian]) {
      const page = learner.page;
      assert.match(await page.locator('[data-testid=join-privacy]').textContent() ?? '', /instructor.*can see your progress.*view your terminal/s);
      await shot(page, `join-${learner.name}`);
      await page.locator('[data-testid=join-name]').fill(learner.name);
      await page.locator('[data-testid=join-go]').click();
      await waitForPrompt(page);
      await page.locator('[data-testid=workshop-countdown]').waitFor();
    }
    await dash().locator('[data-testid=count-joined][data-value="2"]').waitFor();
    for (const learner of learners) {
      const row = dash().locator(`[data-testid=seat-row][data-name=${learner.name}]`);
      learner.seat = (await row.getAttribute('data-seat')) ?? undefined;
      assert.ok(learner.seat);
      await cell(learner.seat, 1).and(dash().locator('[data-state=current]')).waitFor();
    }
    ready = true;
  });

  test('a learner who closed the tab goes straight back to the same seat and box', async (t) => {
    if (!needsRoom(t)) return;
    const [ada] = seated();
    const before = await storedSession(ada.page);
    await run(ada.page, 'echo kept > ~/kept.txt');
    assert.deepEqual(ada.errors, [], 'no errors in the page before it closed');
    await ada.page.close();
    ada.page = await ada.context.newPage();
    // From here on ada's list is the new page's: the room's last test asserts it is empty.
    ada.errors = collectPageErrors(ada.page);
    retryNavigationOnNetworkChange(ada.page);
    await ada.page.goto(`${server.url}/w/${code}`);
    await waitForPrompt(ada.page);
    assert.equal((await storedSession(ada.page))?.id, before?.id, 'the same session');
    await run(ada.page, 'cat ~/kept.txt');
    await waitForLine(ada.page, 'kept');
    await dash().locator('[data-testid=count-joined][data-value="2"]').waitFor();
  });

  test('a passed step turns green on the dashboard, a failing check red, a raised hand comes first', async (t) => {
    if (!needsRoom(t)) return;
    const [ada, brian] = seated();
    await run(ada.page, 'echo hello > ~/hello.txt');
    await waitForStep(ada.page, 1, 'done');
    await cell(ada.seat, 1).and(dash().locator('[data-state=passed]')).waitFor({ timeout: 5000 });
    await cell(ada.seat, 2).and(dash().locator('[data-state=current]')).waitFor();

    await run(brian.page, 'echo goodbye > ~/hello.txt');
    await brian.page.locator('tl-guide [data-testid=check-feedback]').waitFor();
    await cell(brian.seat, 1).and(dash().locator('[data-state=failing]')).waitFor({ timeout: 5000 });
    assert.equal(await cell(brian.seat, 1).getAttribute('data-failures'), '1');

    await brian.page.locator('[data-testid=hand]').click();
    await dash().locator('[data-testid=count-hands][data-value="1"]').waitFor();
    assert.equal(await dash().locator('[data-testid=seat-row]').first().getAttribute('data-name'), 'Brian', 'a raised hand comes first');
    await brian.page.locator('[data-testid=hand][aria-pressed=true]').waitFor();
    await shot(dash(), 'dashboard');
    await brian.page.locator('[data-testid=hand]').click();
    await dash().locator('[data-testid=count-hands][data-value="0"]').waitFor();
  });

  test('a dashboard that lost its connection catches up, with no duplicates', async (t) => {
    if (!needsRoom(t)) return;
    const [ada, brian] = seated();
    link.cut();
    try {
      await dash().locator('[data-testid=feed]:not([data-state=live])').waitFor();
      await run(ada.page, 'mkdir -p ~/notes && mv ~/hello.txt ~/notes/');
      await waitForStep(ada.page, 2, 'done');
      await run(brian.page, 'echo hello > ~/hello.txt');
      await waitForStep(brian.page, 1, 'done');
      assert.equal(await cell(ada.seat, 2).getAttribute('data-state'), 'current', 'nothing arrived while cut off');
    } finally {
      link.restore();
    }
    await dash().locator('[data-testid=feed][data-state=live]').waitFor({ timeout: 30_000 });
    await cell(ada.seat, 2).and(dash().locator('[data-state=passed]')).waitFor({ timeout: 15_000 });
    await cell(brian.seat, 1).and(dash().locator('[data-state=passed]')).waitFor();
    const seats = await dash().locator('[data-testid=seat-row]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-seat')));
    assert.deepEqual([...seats].sort(), [ada.seat, brian.seat].sort(), 'one row per seat');
    await dash().locator('[data-testid=step-stat-1][data-passed="2"]').waitFor();
    await dash().locator('[data-testid=step-stat-2][data-passed="1"]').waitFor();
    // What the cut did to the page's requests is expected; anything else is not.
    const cut = (e: string) => /^console: Failed to load resource: net::ERR_(CONNECTION_RESET|CONNECTION_REFUSED|SOCKET_NOT_CONNECTED|EMPTY_RESPONSE|CONNECTION_CLOSED)$/.test(e);
    assert.deepEqual(instructor.errors.filter((e) => !cut(e)), []);
    instructor.errors.splice(0);
  });

  test('the instructor views a learner\'s terminal: an earlier command\'s output, then a new one', async (t) => {
    if (!needsRoom(t)) return;
    const [ada] = seated();
    await run(ada.page, 'echo earlier-$((6*7))');
    await dash().locator(`[data-testid=view-${ada.seat}]`).click();
    await dash().locator('[data-testid=view-status][data-state=connected]').waitFor({ timeout: 20_000 });
    await waitForViewLine(dash(), 'earlier-42');
    await ada.page.locator('[data-testid=being-viewed]').waitFor();
    await run(ada.page, 'echo later-$((7*8))');
    await waitForViewLine(dash(), 'later-56');
    await shot(dash(), 'view');

    // Typing in the view reaches nobody until the learner hands control over.
    await dash().locator('[data-testid=view-screen] .xterm-helper-textarea').focus();
    await dash().keyboard.type('echo sneaky\n');
    await dash().locator('[data-testid=view-request-control]').click();
    await ada.page.locator('[data-testid=control-allow]').click();
    await dash().locator('[data-testid=view-typing]').waitFor();
    await shot(ada.page, 'learner-control');
    await dash().locator('[data-testid=view-screen] .xterm-helper-textarea').focus();
    await dash().keyboard.type('echo helped-$((5*5))\n');
    await waitForLine(ada.page, 'helped-25');
    await ada.page.locator('[data-testid=control-take-back]').click();
    await dash().locator('[data-testid=view-typing]').waitFor({ state: 'detached' });
    await dash().locator('[data-testid=view-request-control]').waitFor();
    const adaLines = await run(ada.page, 'true');
    assert.ok(!adaLines.some((l) => l.includes('sneaky')), 'what the viewer typed without control never reached the shell');
    await dash().locator('[data-testid=view-close]').click();
    await ada.page.locator('[data-testid=being-viewed]').waitFor({ state: 'detached' });
  });

  test('an assistant views a terminal but cannot take control, reset or end', async (t) => {
    if (!needsRoom(t)) return;
    const [ada] = seated();
    const assistant = await newPerson();
    try {
      await assistant.page.goto(assistantUrl.replace(link.url, server.url));
      await assistant.page.locator('[data-testid=dashboard-title]').waitFor();
      await assistant.page.locator(`[data-testid=view-${ada.seat}]`).waitFor();
      assert.equal(await assistant.page.locator('[data-testid^=reset-]').count(), 0, 'no Reset');
      assert.equal(await assistant.page.locator('[data-testid=end-workshop]').count(), 0, 'no End');
      await assistant.page.locator(`[data-testid=view-${ada.seat}]`).click();
      await assistant.page.locator('[data-testid=view-status][data-state=connected]').waitFor({ timeout: 20_000 });
      assert.equal(await assistant.page.locator('[data-testid=view-request-control]').count(), 0, 'no Request control');
      assert.deepEqual(assistant.errors, []);
    } finally {
      await assistant.context.close();
    }
  });

  test('a broadcast reaches every learner\'s page, its code copyable', async (t) => {
    if (!needsRoom(t)) return;
    await dash().locator('[data-testid=broadcast-text]').fill('Next, run `cat ~/notes/hello.txt` please');
    await dash().locator('[data-testid=broadcast-send]').click();
    for (const { page } of learners) {
      const banner = page.locator('[data-testid=broadcast]');
      await banner.waitFor();
      assert.match(await banner.textContent() ?? '', /From your instructor:\s*Next, run\s*cat ~\/notes\/hello\.txt.*please/s);
      assert.equal(await banner.locator('code').textContent(), 'cat ~/notes/hello.txt');
      await banner.locator('[data-testid=broadcast-copy]').waitFor();
    }
    await shot(learners[0]!.page, 'learner-broadcast');
  });

  test('extending the workshop moves every countdown', async (t) => {
    if (!needsRoom(t)) return;
    const before = Number(await learners[0]!.page.locator('[data-testid=workshop-countdown]').getAttribute('data-ends-at'));
    assert.ok(before > Date.now());
    await dash().locator('[data-testid=extend-15]').click();
    const after = before + 15 * 60_000;
    for (const { page } of [...learners, instructor]) {
      const selector = page === dash() ? '[data-testid=time-left]' : '[data-testid=workshop-countdown]';
      await page.locator(`${selector}[data-ends-at="${after}"]`).waitFor();
    }
  });

  test('a reset gives the learner a fresh box on the same seat; the page follows, the dashboard keeps what was passed', async (t) => {
    if (!needsRoom(t)) return;
    const [ada] = seated();
    const before = await pageSession(ada.page);
    assert.ok(before);
    await run(ada.page, 'echo mine > ~/mine.txt');
    await dash().locator(`[data-testid=reset-${ada.seat}]`).click();
    const after = await waitForNewSession(ada.page, before.id);
    assert.equal(after.workshop?.seat, ada.seat, 'the same seat');
    await ada.page.locator('[data-testid=session-notice]', { hasText: 'Your instructor gave you a fresh box' }).waitFor();
    assert.equal(await ada.page.locator('[data-testid=session-ended]').count(), 0, 'not the ended state');
    const lines = await run(ada.page, 'test -e ~/mine.txt && echo still-$((3*4)) || echo gone-$((3*4))');
    assert.ok(lines.includes('gone-12') && !lines.includes('still-12'), 'the file was in the old box only');
    await waitForStep(ada.page, 1, 'current');
    // The new box starts the lab again; the dashboard still shows what Ada passed before.
    await cell(ada.seat, 1).and(dash().locator('[data-passed-before=true]')).waitFor();
    await cell(ada.seat, 2).and(dash().locator('[data-passed-before=true]')).waitFor();
    await dash().locator('[data-testid=step-stat-1][data-passed="2"]').waitFor();
    await shot(dash(), 'after-reset');
  });

  test('the end warns every learner, then closes their labs', async (t) => {
    if (!needsRoom(t)) return;
    await dash().locator('[data-testid=end-workshop]').click();
    await dash().locator('[data-testid=end-workshop-confirm]').click();
    for (const { page } of learners) await page.locator('[data-testid=ending]').waitFor();
    await shot(learners[0]!.page, 'learner-ending');
    for (const { page } of learners) {
      await page.locator('[data-testid=session-ended]').waitFor({ timeout: END_WARNING_MS + 30_000 });
      await page.locator('[data-testid=terminal-status][data-state=ended]').waitFor({ timeout: 30_000 });
    }
    await dash().locator('[data-testid=time-left][data-phase=ended]').waitFor();

    // The report: a row per seat and step, and the CSV.
    await dash().locator('[data-testid=report-link]').click();
    await dash().locator('[data-testid=report-table]').waitFor();
    assert.equal(await dash().locator('[data-testid=report-row]').count(), 2 * 3, 'two learners, three steps');
    await shot(dash(), 'report');
    const csv = await dash().locator('[data-testid=report-csv]').getAttribute('href');
    assert.match(csv ?? '', /\/report\?format=csv$/);
    for (const p of [instructor, ...learners]) assert.deepEqual(p.errors, [], 'no errors in the page');

    // Coming back to the code afterwards says it is over.
    const ada = learners[0]!;
    await ada.page.goto(`${server.url}/w/${code}`);
    await ada.page.locator('[data-testid=join-ended]').waitFor();
  });
});

/** POST /api/workshops straight to the server (no admin token is set in these tests). */
async function createWorkshop(body: Record<string, unknown>): Promise<{ id: string; code: string }> {
  const res = await fetch(`${server.url}/api/workshops`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()) as { id: string; code: string };
}

describe('a two-lab workshop', () => {
  test('a learner who finished the first lab moves on with "Next lab", on the same seat and a new box', async () => {
    const { code } = await createWorkshop({ title: 'Two labs', labs: ['hello', 'hello-again'], seats: 1 });
    const learner = await newPerson();
    const page = learner.page;
    try {
      await page.goto(`${server.url}/w/${code}`);
      await page.locator('[data-testid=join-name]').fill('Grace');
      await page.locator('[data-testid=join-go]').click();
      await waitForPrompt(page);
      const first = await pageSession(page);
      assert.equal(first?.lab, 'hello');
      // The hello lab's solutions, typed; each step turns green by itself.
      const solutions = ['echo hello > ~/hello.txt', 'mkdir -p ~/notes && mv ~/hello.txt ~/notes/', 'nohup sleep 1000 >/dev/null 2>&1 &'];
      for (const [i, solution] of solutions.entries()) {
        await run(page, solution);
        await waitForStep(page, i + 1, 'done');
      }
      const next = page.locator('tl-guide [data-testid=lab-finished] [data-testid=next-lab]');
      assert.equal((await next.textContent())?.trim(), 'Next lab: Hello again');
      await shot(page, 'next-lab');
      await next.click();

      const second = await waitForNewSession(page, first!.id);
      assert.deepEqual([second.lab, second.title, second.workshop?.seat], ['hello-again', 'Hello again', first!.workshop?.seat]);
      await waitForStep(page, 1, 'current');
      const lines = await run(page, 'test -e ~/notes/hello.txt && echo old-$((2*5)) || echo new-$((2*5))');
      assert.ok(lines.includes('new-10') && !lines.includes('old-10'), 'a new box');
      assert.equal(await page.locator('[data-testid=session-ended]').count(), 0, 'not the ended state');
      assert.deepEqual(learner.errors, []);
    } finally {
      await learner.context.close();
    }
  });
});

/** Waits for `selector`; a timeout says what the page showed instead, and its errors. */
async function waitVisible(p: Person, selector: string): Promise<void> {
  await p.page.locator(selector).waitFor().catch(async (err: unknown) => {
    throw new Error(`${String(err)}\nthe page showed: ${await describePage(p.page)}\npage errors: ${p.errors.join('; ') || 'none'}`);
  });
}

describe('the join page', () => {
  test('a workshop not open yet counts down to its start', async () => {
    const startsAt = Date.now() + 3 * 3600_000;
    const { code } = await createWorkshop({ title: 'Later', labs: ['hello'], seats: 2, startsAt, endsAt: startsAt + 3600_000 });
    const person = await newPerson();
    try {
      await person.page.goto(`${server.url}/w/${code}`);
      await waitVisible(person, '[data-testid=join-state][data-phase=scheduled]');
      assert.match(await person.page.locator('[data-testid=join-countdown]').textContent() ?? '', /Opens in\s*[23]:\d\d:\d\d/);
      assert.equal(await person.page.locator('[data-testid=join-name]').count(), 0, 'no way to join yet');
      assert.deepEqual(person.errors, []);
    } finally {
      await person.context.close();
    }
  });

  test('a full workshop says so, with the count', async () => {
    const { code } = await createWorkshop({ title: 'Tiny', labs: ['hello'], seats: 1 });
    const first = await newPerson();
    const second = await newPerson();
    try {
      await first.page.goto(`${server.url}/w/${code}`);
      await first.page.locator('[data-testid=join-name]').fill('Only');
      await first.page.locator('[data-testid=join-go]').click();
      await waitForPrompt(first.page);
      await second.page.goto(`${server.url}/w/${code}`);
      await waitVisible(second, '[data-testid=join-full]');
      assert.equal((await second.page.locator('[data-testid=join-full]').textContent())?.trim(), 'Full (1/1).');
      await second.page.goto(`${server.url}/w/NOPE22`);
      assert.match(await second.page.locator('[data-testid=join-error]').textContent() ?? '', /no workshop with the code NOPE22/);
    } finally {
      await first.context.close();
      await second.context.close();
    }
  });
});
