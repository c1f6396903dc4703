import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { createBox, removeLeftovers, type Box } from '../../../server/sandbox/boxes.js';
import { KUBERNETES_LIMITS, engineAndImages, log, sh, uniqueInstance } from './helpers.js';

describe('kubernetes profile box (single-node cluster)', () => {
  const instance = uniqueInstance('kube');
  let docker: Docker;
  let box: Box;
  let readyMs = 0;

  before(async () => {
    const ready = await engineAndImages();
    docker = ready.docker;
    const t = Date.now();
    box = await createBox(docker, {
      instance, session: 's1', profile: 'kubernetes', image: ready.images.kubernetes,
      limits: KUBERNETES_LIMITS, internet: false,
    });
    readyMs = Date.now() - t;
    log(`kubernetes box ready in ${readyMs} ms`);
  });
  after(async () => { if (docker) await removeLeftovers(docker, instance, () => {}); });

  // First, right after "ready": start.sh makes the default ServiceAccount and kube-root-ca.crt itself
  // and starts the scheduler and controller-manager at that moment, so nothing here may race them.
  test('a pod applied right after ready is admitted and runs, with its service account token', async () => {
    await sh(docker, box.id, 'kubectl apply -f - >/dev/null <<EOF\n' +
      'apiVersion: v1\nkind: Pod\nmetadata: {name: first}\n' +
      'spec: {containers: [{name: c, image: termlab/busybox:1.0, command: [sleep, "3600"]}]}\nEOF');
    await sh(docker, box.id, 'kubectl wait --for=condition=Ready pod/first --timeout=60s >/dev/null', 70_000);
    assert.match(await sh(docker, box.id, 'kubectl exec first -- cat /var/run/secrets/kubernetes.io/serviceaccount/ca.crt'),
      /BEGIN CERTIFICATE/);
    await sh(docker, box.id, 'kubectl delete pod first --wait=false >/dev/null');
  });

  test('the node is Ready, the default service account exists, kubectl and helm work', async (t) => {
    t.diagnostic(`time to ready: ${(readyMs / 1000).toFixed(1)} s`);
    assert.equal(await sh(docker, box.id,
      'kubectl get node kube-box -o jsonpath=\'{.status.conditions[?(@.type=="Ready")].status}\''), 'True');
    assert.equal(await sh(docker, box.id, 'kubectl get sa default -o name'), 'serviceaccount/default');
    assert.match(await sh(docker, box.id, 'helm version --short'), /^v3\.\d+\.\d+/);
    assert.match(await sh(docker, box.id, 'bash -lc "echo \\$KUBECONFIG"'), /\/root\/\.kube\/config/);
  });

  test('a Deployment of the offline web image runs and answers on its pod IP', async () => {
    await sh(docker, box.id, 'kubectl create deployment web --image=termlab/web:1.0 >/dev/null');
    await sh(docker, box.id, 'kubectl rollout status deployment/web --timeout=60s >/dev/null', 70_000);
    const ip = await sh(docker, box.id, 'kubectl get pod -l app=web -o jsonpath="{.items[0].status.podIP}"');
    assert.match(ip, /^10\.244\.0\.\d+$/);
    const page = await sh(docker, box.id,
      `for i in $(seq 50); do curl -sf http://${ip}/ && exit 0; sleep 0.2; done; exit 1`);
    assert.match(page, /Hello from termlab web v1/);
    await sh(docker, box.id, 'kubectl delete deployment web --wait=false >/dev/null');
  });

  test('the chart repository serves web and hello charts, and helm installs and upgrades offline', async () => {
    await sh(docker, box.id, 'helm repo add termlab http://localhost:8879 >/dev/null');
    const charts = await sh(docker, box.id, 'helm search repo termlab -l | awk \'NR > 1 { print $1 "@" $2 }\' | sort | tr "\\n" " "');
    assert.equal(charts.trim(), 'termlab/hello@1.0.0 termlab/hello@1.1.0 termlab/web@0.1.0 termlab/web@0.2.0');
    await sh(docker, box.id, 'helm install site termlab/web --version 0.1.0 --set message=hi --wait --timeout 60s >/dev/null', 70_000);
    const svc = await sh(docker, box.id, 'kubectl get svc site-web -o jsonpath="{.spec.clusterIP}"');
    assert.match(await sh(docker, box.id, `curl -sf http://${svc}/`), /web v1/);
    assert.equal(await sh(docker, box.id, `curl -sf http://${svc}/message/`), 'hi');
    await sh(docker, box.id, 'helm upgrade site termlab/web --version 0.2.0 --reuse-values --wait --timeout 60s >/dev/null', 70_000);
    assert.match(await sh(docker, box.id,
      `for i in $(seq 50); do curl -sf http://${svc}/ | grep -q v2 && curl -sf http://${svc}/ && exit 0; sleep 0.2; done; exit 1`), /web v2/);
  });

  test('limits hold for the box', async (t) => {
    assert.equal(await sh(docker, box.id, 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes'),
      String(KUBERNETES_LIMITS.memoryMb * 1024 * 1024));
    assert.equal(await sh(docker, box.id, 'cat /sys/fs/cgroup/pids/pids.max'), String(KUBERNETES_LIMITS.pids));
    const usage = Number(await sh(docker, box.id, 'cat /sys/fs/cgroup/memory/memory.usage_in_bytes'));
    const pids = await sh(docker, box.id, 'cat /sys/fs/cgroup/pids/pids.current');
    t.diagnostic(`box memory ${(usage / 1048576).toFixed(0)} MiB, pids ${pids}`);
    assert.ok(usage < KUBERNETES_LIMITS.memoryMb * 1048576);
  });
});
