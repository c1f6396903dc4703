// A first run in a real Chromium: while the kubernetes image is still being prepared, the Helm
// lab's card says so with its progress and a shell lab starts; once it is ready the card offers
// Start again without a reload. The preparation is held by a gate in front of the real step.
//   node --import tsx --test --test-timeout=300000 test/web/first-run.test.ts
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, BrowserContext } from 'playwright-core';
import type { LabServer } from '../../server/lab-server.js';
import type { PrepareStep } from '../../server/sandbox/preparation.js';
import { collectPageErrors, ensureWebBuilt, launchBrowser, startLab } from '../helpers/browser.js';
import { startTestServer, stopAndListLeftovers } from '../helpers/lab-server.js';

let server: LabServer;
let browser: Browser;
let context: BrowserContext;
let release!: () => void;
const gate = new Promise<void>((resolve) => { release = resolve; });
const prepare: PrepareStep = async (_profile, ctx) => {
  ctx.phase('kube-bins');
  await gate;
  return ctx.prepare();
};

before(async () => {
  ensureWebBuilt();
  server = await startTestServer({}, { prepare: { profiles: ['kubernetes'], step: prepare } });
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
});

after(async () => {
  release();
  await context?.close().catch(() => {});
  await browser?.close().catch(() => {});
  assert.deepEqual(await stopAndListLeftovers(server), [], 'containers left behind');
});

test('the Helm card says it is preparing, a shell lab starts meanwhile, and Helm becomes startable without a reload', async () => {
  const list = await context.newPage();
  const errors = collectPageErrors(list);
  await list.goto(server.url);
  const helm = list.locator('[data-testid=lab-helm]');
  await helm.locator('[data-testid=profile-status]').waitFor({ timeout: 30_000 });
  assert.match(await helm.locator('[data-testid=profile-status]').innerText(),
    /Preparing: building Kubernetes binaries, \d+ of ~\d+ min\. Other labs can start meanwhile\./);
  assert.equal(await helm.locator('[data-testid=start-helm]').isDisabled(), true);
  assert.equal((await list.locator('[data-testid=lab-hello] [data-testid=profile-status]').count()), 0, 'shell labs are not held');

  const lab = await context.newPage();
  await startLab(lab, server.url, 'hello', 60_000);

  release();
  // The list page polls while something is preparing: the card turns back into a Start button.
  await helm.locator('[data-testid=profile-status]').waitFor({ state: 'detached', timeout: 120_000 });
  assert.equal(await helm.locator('[data-testid=start-helm]').innerText(), 'Start');
  assert.equal(await helm.locator('[data-testid=start-helm]').isDisabled(), false);
  assert.deepEqual(errors, []);
});
