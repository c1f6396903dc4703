// The whole server on the Kubernetes backend (TERMLAB_BACKEND=kubernetes): a learner starts a lab,
// types in its terminal over the WebSocket and the lab's checks run in the pod; stopping the
// server removes the session's namespace. Gateways sharing PostgreSQL carry each other's sessions
// on: the shell itself survives a gateway killed mid-session. A real cluster (termlab's kubernetes
// box) and a real PostgreSQL, no mocks.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { CoreV1Api } from '@kubernetes/client-node';
import type { Config } from '../../../server/config.js';
import type { LabServer } from '../../../server/lab-server.js';
import { createSession, startTestServer, testInstance, until } from '../../helpers/lab-server.js';
import { startKubeCluster, type KubeCluster } from '../../helpers/kube-cluster.js';
import { startPostgres } from '../../helpers/postgres.js';
import { ProtocolClient } from '../../helpers/protocol-client.js';
import { startReplicaProcess } from '../../helpers/replica-process.js';
import { uniqueInstance } from '../sandbox/helpers.js';

let cluster: KubeCluster;
let server: LabServer | undefined;
const instance = testInstance();

before(async () => {
  cluster = await startKubeCluster(uniqueInstance('k8srv'), ['shell']);
});
after(async () => {
  await server?.stop().catch(() => {});
  await cluster?.stop();
});

test('a lab runs on the Kubernetes backend: terminal over the WebSocket, checks in the pod, namespace gone at stop', async (t) => {
  server = await startTestServer({
    instance,
    backend: 'kubernetes',
    kubernetes: { kubeconfig: cluster.kubeconfigPath, namespacePrefix: 'tl-', images: {}, runtimeClass: undefined },
  });
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  const started = Date.now();
  const s = await createSession(server, 'hello');
  const c = await ProtocolClient.open(server.url, s.token);
  await c.waitForText(/# $/, 30_000);
  const promptMs = Date.now() - started;
  c.type('echo over-k8s-$((6*7)) > /root/mark; cat /root/mark\r');
  await c.waitForText(/\rover-k8s-42\r\n/);
  const namespaces = await core.listNamespace({ labelSelector: `termlab.instance=${instance}` });
  assert.equal(namespaces.items.length, 1);
  // What the lab's checks use, through the server's own driver: the same pod the terminal is in.
  const session = server.sessions.byId(s.id)!;
  assert.deepEqual(await server.driver.runScript(session.box, 'cat /root/mark', 10_000), { exitCode: 0, output: 'over-k8s-42', timedOut: false });
  c.close();
  await server.stop();
  server = undefined;
  const left = await core.listNamespace({ labelSelector: `termlab.instance=${instance}` });
  assert.equal(left.items.length, 0, 'the session namespace is gone once the server stopped');
  t.diagnostic(`lab start to first prompt over the WebSocket: ${promptMs} ms`);
});

test('a gateway killed mid-session: the learner reconnects through another and finds the same shell, screen kept; a live gateway gives a session up to the one its page moved to', async (t) => {
  const pg = startPostgres();
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-k8s-adopt-'));
  const databaseUrl = await pg.createDatabase();
  const kube: Config['kubernetes'] = { kubeconfig: cluster.kubeconfigPath, namespacePrefix: 'tl-', images: {}, runtimeClass: undefined };
  const shared = testInstance();
  const dying = await startReplicaProcess({
    TERMLAB_BACKEND: 'kubernetes', TERMLAB_KUBECONFIG: cluster.kubeconfigPath, TERMLAB_DATABASE_URL: databaseUrl,
    TERMLAB_INSTANCE: shared, TERMLAB_REPLICA: 'gw-dying', TERMLAB_REPLICA_BEAT_MS: '300', TERMLAB_STATE_DIR: path.join(stateDir, 'dying'),
  });
  const gateway = (name: string) => startTestServer({ instance: shared, backend: 'kubernetes', kubernetes: kube, databaseUrl, replica: name,
    replicaBeatMs: 300, sweepIntervalMs: 500, stateDir: path.join(stateDir, name) });
  let b: LabServer | undefined;
  let c: LabServer | undefined;
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  try {
    b = await gateway('gw-b');
    const res = await fetch(`${dying.url}/api/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"lab":"hello"}' });
    assert.equal(res.status, 201);
    const s = (await res.json()) as { id: string; token: string };
    const first = await ProtocolClient.open(dying.url, s.token);
    await first.waitForText(/# $/, 30_000);
    first.type('cd /etc; KEPT=value-$((40+2)); sleep 600 & echo set-done\r');
    await first.waitForText(/\nset-done\r\n/);

    dying.proc.kill('SIGKILL');
    await first.waitForClose();
    const started = Date.now();
    const second = await ProtocolClient.open(b.url, s.token, { resumeFrom: first.offset, cols: 90, rows: 30 });
    const readyMs = Date.now() - started;
    assert.equal(second.of('ready')[0]!.offset, first.offset, 'the page resumes where its screen stops');
    assert.equal(second.snapshot, undefined, 'and keeps its screen: no snapshot');
    second.type('echo "state=$KEPT pwd=$PWD jobs=$(jobs | wc -l) size=$(stty size)"\r');
    await second.waitForText(/state=value-42 pwd=\/etc jobs=1 size=30 90/);

    // Scale-out: the page's next connection lands on a third gateway while b still runs. c adopts;
    // b's attach is displaced, and b lets the session go without touching the pod.
    c = await gateway('gw-c');
    const third = await ProtocolClient.open(c.url, s.token, { resumeFrom: second.offset });
    third.type('echo "again=$KEPT"\r');
    await third.waitForText(/again=value-42/);
    await second.waitForClose();
    assert.equal(second.of('exit')[0]?.reason, 'replaced');
    await until('b to let the session go', () => b!.sessions.byId(s.id) === undefined);
    third.type('echo "still=$KEPT"\r');
    await third.waitForText(/still=value-42/);
    const namespaces = await core.listNamespace({ labelSelector: `termlab.session=${s.id}` });
    assert.equal(namespaces.items.length, 1, 'the session namespace is still there');
    third.close();

    // c owns it: its end removes the namespace.
    await c.sessions.end(c.sessions.byId(s.id)!, 'ended');
    const left = await core.listNamespace({ labelSelector: `termlab.session=${s.id}` });
    assert.ok(left.items.every((ns) => ns.status?.phase === 'Terminating') || left.items.length === 0);
    t.diagnostic(`reconnect to another gateway until ready (adopting the session): ${readyMs} ms`);
  } finally {
    dying.proc.kill('SIGKILL');
    await b?.stop().catch(() => {});
    await c?.stop().catch(() => {});
    pg.stop();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
});
