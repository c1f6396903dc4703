// The whole server on the Kubernetes backend (TERMLAB_BACKEND=kubernetes): a learner starts a lab,
// types in its terminal over the WebSocket and the lab's checks run in the pod; stopping the
// server removes the session's namespace. A real cluster (termlab's kubernetes box), no mocks.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CoreV1Api } from '@kubernetes/client-node';
import type { LabServer } from '../../../server/lab-server.js';
import { createSession, startTestServer, testInstance } from '../../helpers/lab-server.js';
import { startKubeCluster, type KubeCluster } from '../../helpers/kube-cluster.js';
import { ProtocolClient } from '../../helpers/protocol-client.js';
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
