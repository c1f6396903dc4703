// The `hello-docker` lab in a real Chromium: containers run by the box's own engine from its
// offline images, their output in the page, and End lab removing the whole box.
//   node --import tsx --test --test-timeout=300000 test/web/docker-lab.test.ts
import assert from 'node:assert/strict';
import { after, before, test, type TestContext } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { LabServer } from '../../server/lab-server.js';
import {
  collectPageErrors, countLines, ensureWebBuilt, launchBrowser, run, startLab, storedSession, waitForLine,
} from '../helpers/browser.js';
import { startTestServer, stopAndListLeftovers, testInstance } from '../helpers/lab-server.js';

const instance = testInstance();
let server: LabServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let errors: string[];
/** Set once the lab is up; the later tests need its box. */
let started = false;

before(async () => {
  ensureWebBuilt();
  server = await startTestServer({ instance });
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  errors = collectPageErrors(page);
});

after(async () => {
  await context?.close().catch(() => {});
  await browser?.close().catch(() => {});
  const left = await stopAndListLeftovers(server);
  assert.deepEqual(left, [], 'containers left behind');
});

// The tests share one box (a docker box takes a while to start) and run in order.
function needsBox(t: TestContext): boolean {
  if (!started) t.skip('the lab did not start');
  return started;
}

test('start the hello-docker lab', async () => {
  await startLab(page, server.url, 'hello-docker', 180_000);
  const lines = await run(page, 'docker images --format "{{.Repository}}:{{.Tag}}" | sort');
  assert.ok(lines.includes('busybox:latest') && lines.includes('web:latest'), `offline images loaded:\n${lines.join('\n')}`);
  started = true;
});

test('docker run busybox prints in the page', async (t) => {
  if (!needsBox(t)) return;
  const lines = await run(page, 'docker run --rm busybox echo hi-from-busybox', 60_000);
  await waitForLine(page, 'hi-from-busybox');
  assert.equal(countLines(lines, 'hi-from-busybox'), 1);
});

test('a web container answers on a published port', async (t) => {
  if (!needsBox(t)) return;
  await run(page, 'docker run -d --name web -p 8080:80 web >/dev/null && echo started-$((1+1))', 60_000);
  await waitForLine(page, 'started-2');
  // curl retries until httpd listens (connection refused) instead of the test sleeping.
  const lines = await run(page, 'curl -sS --retry 20 --retry-connrefused --retry-delay 1 localhost:8080', 60_000);
  assert.ok(lines.some((l) => l.includes('<h1>Hello from termlab web</h1>')), `page served:\n${lines.slice(-10).join('\n')}`);
});

test('End lab removes the docker box and goes back to the lab list', async (t) => {
  if (!needsBox(t)) return;
  const stored = await storedSession(page);
  assert.ok(stored);
  const session = server.sessions.byId(stored.id);
  assert.ok(session);
  const docker = server.driver.docker;
  await page.locator('[data-testid=end-lab]').click();
  await page.locator('[data-testid=start-hello-docker]').waitFor({ timeout: 60_000 });
  assert.equal(server.sessions.byId(stored.id), undefined);
  await assert.rejects(docker.getContainer(session.box.id).inspect(), (err: { statusCode?: number }) => err.statusCode === 404);
  assert.equal((await docker.listContainers({ all: true })).some((c) => c.Id === session.box.id), false);
  assert.deepEqual(errors, []);
});
