// The docker profile on the Kubernetes backend, under a real sandboxed RuntimeClass: gVisor's runsc
// as a containerd runtime handler in the test cluster (startKubeCluster's `gvisor` option). A
// docker box's pod has every capability and no seccomp, which only a sandboxed runtime makes
// acceptable; here its inner Docker engine runs, builds and runs containers on gVisor's kernel.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CoreV1Api } from '@kubernetes/client-node';
import { loadConfig } from '../../../server/config.js';
import { createLogger } from '../../../server/log.js';
import type { BoxHandle } from '../../../server/sandbox/sandbox-driver.js';
import { createKubernetesDriver, type KubernetesDriver } from '../../../server/sandbox/kubernetes/kubernetes-driver.js';
import { namespaceName } from '../../../server/sandbox/kubernetes/manifests.js';
import { startKubeCluster, type KubeCluster } from '../../helpers/kube-cluster.js';
import { log, sh, uniqueInstance } from '../sandbox/helpers.js';

describe('kubernetes backend: a docker box under gVisor (RuntimeClass)', () => {
  const instance = uniqueInstance('k8sdind');
  let cluster: KubeCluster;
  let driver: KubernetesDriver;
  let core: CoreV1Api;
  let box: BoxHandle;

  before(async () => {
    cluster = await startKubeCluster(instance, ['docker'], { gvisor: true });
    log(`cluster with gVisor ready in ${cluster.startMs} ms, docker image imported in ${cluster.importMs} ms`);
    const config = loadConfig({
      TERMLAB_INSTANCE: instance, TERMLAB_BACKEND: 'kubernetes', TERMLAB_KUBECONFIG: cluster.kubeconfigPath,
      TERMLAB_KUBE_RUNTIME_CLASS: cluster.runtimeClass,
      TERMLAB_DOCKER_MEMORY_MB: '768', TERMLAB_DOCKER_CPUS: '1', TERMLAB_DOCKER_DISK_MB: '256',
    });
    driver = await createKubernetesDriver(config, createLogger('silent'));
    core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  });
  after(async () => {
    await driver?.removeLeftovers().catch(() => {});
    await cluster?.stop();
  });

  test('with a RuntimeClass the docker profile is offered, and its pod runs on gVisor, not the node\'s kernel', async (t) => {
    assert.equal(driver.available('docker'), undefined);
    const started = Date.now();
    box = await driver.create({ session: 'd1', profile: 'docker', hostname: 'dock', internet: false });
    t.diagnostic(`docker box create (pod under gVisor, inner engine ready, images loaded): ${Date.now() - started} ms`);

    const ns = namespaceName('tl-', instance, 'd1');
    // Retries on the way (a sandbox the runtime could not make at first) show here, not as a failure.
    for (const e of (await core.listNamespacedEvent({ namespace: ns })).items.filter((e) => e.type === 'Warning')) {
      t.diagnostic(`event: ${e.reason}: ${e.message}`);
    }
    const namespace = await core.readNamespace({ name: ns });
    assert.equal(namespace.metadata?.labels?.['pod-security.kubernetes.io/enforce'], 'privileged');
    const pod = await core.readNamespacedPod({ name: 'dock', namespace: ns });
    assert.equal(pod.spec?.runtimeClassName, 'gvisor');
    const caps = pod.spec?.containers[0]?.securityContext?.capabilities;
    assert.deepEqual([caps?.add, caps?.drop], [['ALL'], ['SYS_RESOURCE']]);
    // The image's entrypoint runs (it starts the inner engine), not a `sleep` in its place.
    assert.equal(pod.spec?.containers[0]?.command, undefined);

    // gVisor's kernel answers: its version string and its boot messages, not the node's.
    const r = await driver.runScript(box, 'uname -r; dmesg | head -1', 10_000);
    assert.equal(r.exitCode, 0, r.output);
    const [release, boot] = r.output.split('\n');
    assert.match(release ?? '', /gvisor/);
    assert.match(boot ?? '', /Starting gVisor/);
    const nodeRelease = await sh(cluster.docker, cluster.box.id, 'uname -r');
    assert.notEqual(release, nodeRelease);
    // The pod's `Unconfined` seccomp is gVisor's to apply: on the node, its sandbox (the sentry,
    // which serves every syscall the learner makes) runs under runsc's own filter (mode 2).
    const sentries = await sh(cluster.docker, cluster.box.id, "for p in $(pgrep -f '[r]unsc-sandbox'); do grep '^Seccomp:' /proc/$p/status; done");
    assert.ok(sentries.split('\n').every((l) => /^Seccomp:\s+2$/.test(l)), sentries);
  });

  test('the inner engine answers, runs a preloaded image and builds one, offline', async (t) => {
    const info = await driver.runScript(box, "docker info --format '{{.ServerVersion}} {{.Driver}} {{.KernelVersion}}'; docker image ls --format '{{.Repository}}:{{.Tag}}' | sort", 20_000);
    assert.equal(info.exitCode, 0, info.output);
    const [engine, ...images] = info.output.split('\n');
    assert.match(engine ?? '', /^\S+ overlay2 \S*gvisor/);
    assert.deepEqual(images, ['busybox:latest', 'web:latest']);

    const started = Date.now();
    const run = await driver.runScript(box, 'docker run --rm busybox sh -c "echo inner-$((6*7)); uname -r"', 60_000);
    t.diagnostic(`docker run --rm busybox in the gVisor pod: ${Date.now() - started} ms`);
    assert.equal(run.exitCode, 0, run.output);
    assert.match(run.output, /^inner-42\n\S*gvisor/);

    // A build FROM scratch (no container runs) and one with a RUN step (a container per step).
    const build = await driver.runScript(box, [
      'set -e; mkdir -p /tmp/ctx && cd /tmp/ctx && echo from-scratch > hello.txt',
      'printf "FROM scratch\\nCOPY hello.txt /hello.txt\\n" > Dockerfile && docker build -q -t lab/scratch . >/dev/null',
      'printf "FROM busybox\\nRUN echo built-by-run > /built\\nCMD [\\"cat\\", \\"/built\\"]\\n" > Dockerfile && docker build -q -t lab/run . >/dev/null',
      "docker image inspect --format '{{.Size}}' lab/scratch",
      'docker run --rm lab/run',
    ].join('\n'), 90_000);
    assert.equal(build.exitCode, 0, build.output);
    assert.deepEqual(build.output.split('\n'), ['13', 'built-by-run']);
  });

  test('a terminal in the gVisor pod reaches the inner engine; destroy takes the namespace', async () => {
    const shell = driver.openShell(box, { cols: 80, rows: 24 });
    let text = '';
    shell.onData((d) => { text += d.toString('utf8'); });
    const waitFor = async (re: RegExp): Promise<void> => {
      const deadline = Date.now() + 20_000;
      // Without colours: the prompt is `\e[1;32mroot@dock\e[0m:...`.
      while (!re.test(text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, ''))) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}; last output: ${JSON.stringify(text.slice(-300))}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await waitFor(/dock:~# /);
    shell.write('docker run --rm busybox echo via-$((40+2))-terminal\r');
    await waitFor(/via-42-terminal/);
    shell.kill();

    await driver.destroy(box);
    const ns = namespaceName('tl-', instance, 'd1');
    await assert.rejects(core.readNamespace({ name: ns }), (err: { code?: number }) => err.code === 404);
    // And the node's gVisor processes with it: shims and sandboxes, nothing left running.
    await sh(cluster.docker, cluster.box.id, "for i in $(seq 100); do pgrep -f '[c]ontainerd-shim-runsc|[r]unsc-sandbox' >/dev/null || exit 0; sleep 0.1; done; ps -eo pid,args | grep -E '[r]unsc'; exit 1", 20_000);
  });
});
