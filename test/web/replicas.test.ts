// What a learner sees when the replica serving their lab dies: a real Chromium, two replicas
// (server/main.ts, each a process of its own) on one PostgreSQL, behind nginx hashing the learner
// cookie. The replica holding the session is killed with SIGKILL mid-lab; the page reconnects
// through nginx to the other one, which adopts the session: the screen stays as it was, the steps
// stay green, the box keeps the learner's files and the next step turns green there.
//   node --import tsx --test --test-timeout=300000 test/web/replicas.test.ts
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import Docker from 'dockerode';
import { removeLeftovers } from '../../server/sandbox/boxes.js';
import { resolveSocketPath } from '../../server/sandbox/engine.js';
import {
  countLines, ensureWebBuilt, launchBrowser, openPage, run, startLab, terminalState, waitForState, waitForStep,
} from '../helpers/browser.js';
import { until } from '../helpers/lab-server.js';
import { startNginx } from '../helpers/nginx.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { startReplicaProcess } from '../helpers/replica-process.js';
import { sharedInstance, type SharedInstance } from '../helpers/shared-instance.js';

let pg: PostgresServer;
let shared: SharedInstance;
let browser: Browser;
const replicas: Array<{ name: string; url: string; proc: ChildProcess }> = [];
let lb: { url: string; stop: () => void } | undefined;

before(async () => {
  ensureWebBuilt();
  pg = startPostgres();
  shared = await sharedInstance(pg);
  for (const name of ['gw-a', 'gw-b']) {
    replicas.push({ name, ...await startReplicaProcess({
      TERMLAB_DATABASE_URL: shared.databaseUrl, TERMLAB_INSTANCE: shared.instance, TERMLAB_REPLICA: name,
      TERMLAB_REPLICA_BEAT_MS: '500', TERMLAB_STATE_DIR: shared.stateDir(name),
    }) });
  }
  lb = await startNginx(replicas.map((r) => r.url));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close().catch(() => {});
  lb?.stop();
  for (const r of replicas) r.proc.kill('SIGKILL');
  // The killed replica's box, if the test failed before the other's sweep took it.
  if (shared) await removeLeftovers(new Docker({ socketPath: resolveSocketPath() }), shared.instance, () => {});
  pg?.stop();
  shared?.remove();
});

async function sessionsOn(url: string): Promise<number> {
  const health = (await (await fetch(`${url}/api/health`)).json()) as { sessions: number };
  return health.sessions;
}

test('the replica serving a lab is killed: the page reconnects through the load balancer to the other and the learner carries on', async () => {
  const { page, errors } = await openPage(browser);
  await startLab(page, lb!.url, 'hello');
  await run(page, 'echo before-$((6*7))');
  await run(page, 'echo hello > ~/hello.txt');
  await waitForStep(page, 1, 'done');
  const holding = await until('the replica holding the session', async () => {
    for (const r of replicas) if (await sessionsOn(r.url) === 1) return r;
    return undefined;
  });
  const other = replicas.find((r) => r !== holding)!;

  holding.proc.kill('SIGKILL');
  await until('the page to notice', async () => (await terminalState(page)) !== 'connected');
  await waitForState(page, 'connected', 30_000);
  const lines = await run(page, 'echo after-$((6*7)) $(cat ~/hello.txt)');
  assert.equal(countLines(lines, 'before-42'), 1, 'what the terminal showed before the crash is still there, once');
  assert.equal(countLines(lines, 'after-42 hello'), 1, 'the box kept the learner\'s file');
  assert.equal(await sessionsOn(other.url), 1, 'the other replica carries the session now');
  await waitForStep(page, 1, 'done');
  await run(page, 'mkdir ~/notes && mv ~/hello.txt ~/notes/');
  await waitForStep(page, 2, 'done');
  assert.deepEqual(errors, []);
});
