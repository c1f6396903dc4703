// The Kubernetes backend against a real single-node cluster (termlab's own kubernetes box): boxes
// as pods in a session namespace, terminals through exec with dtach behind them, checks, port
// links, names between hosts, teardown. No mocks: every assertion reads the cluster or the pod.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Duplex } from 'node:stream';
import { ApiException, CoreV1Api, NetworkingV1Api } from '@kubernetes/client-node';
import { loadConfig, type Config } from '../../../server/config.js';
import { createLogger } from '../../../server/log.js';
import type { BoxHandle, BoxShell } from '../../../server/sandbox/sandbox-driver.js';
import { createKubernetesDriver, type KubernetesDriver } from '../../../server/sandbox/kubernetes/kubernetes-driver.js';
import { namespaceName } from '../../../server/sandbox/kubernetes/manifests.js';
import { enableNetworkPolicy, startKubeCluster, type KubeCluster } from '../../helpers/kube-cluster.js';
import { log, sh, uniqueInstance } from '../sandbox/helpers.js';

/** A terminal's output as text, with a way to wait for what should appear in it. */
class Screen {
  text = '';
  bytes = 0;
  private waiters: Array<() => void> = [];
  constructor(readonly shell: BoxShell) {
    shell.onData((d) => {
      this.bytes += d.length;
      // A flood would grow this without bound: keep the tail, where prompts and markers land.
      this.text = (this.text + d.toString('utf8')).slice(-64 * 1024);
      for (const w of this.waiters.splice(0)) w();
    });
  }
  /** Resolves once `pattern` is in the output after `from` (a mark taken before typing). */
  async waitFor(pattern: RegExp | ((s: Screen) => boolean), timeoutMs = 20_000): Promise<void> {
    const met = () => (typeof pattern === 'function' ? pattern(this) : pattern.test(this.plain()));
    const deadline = Date.now() + timeoutMs;
    while (!met()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${String(pattern)}; last output: ${JSON.stringify(this.text.slice(-300))}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, Math.max(0, deadline - Date.now()));
      });
    }
  }
  clear(): void { this.text = ''; }
  /** The text without colours, OSC marks and mode switches: what a reader sees. */
  plain(): string { return this.text.replace(/\x1b\][^\x07]*\x07/g, '').replace(/\x1b\[[0-9;?]*[A-Za-z]/g, ''); }
}

/** The whole reply of a dialled connection, or its error. */
function readAll(conn: Duplex): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    conn.on('data', (d: Buffer) => { out += d.toString('utf8'); });
    conn.on('end', () => resolve(out));
    conn.on('error', reject);
  });
}

const isGone = async (fn: () => Promise<unknown>): Promise<boolean> => {
  try { await fn(); return false; } catch (err) { if (err instanceof ApiException && err.code === 404) return true; throw err; }
};

describe('kubernetes backend (real single-node cluster)', () => {
  const instance = uniqueInstance('k8sdrv');
  let cluster: KubeCluster;
  let driver: KubernetesDriver;
  let core: CoreV1Api;
  let alpha: BoxHandle;
  let createToPromptMs = 0;
  let config: Config;

  before(async () => {
    cluster = await startKubeCluster(instance, ['shell']);
    log(`cluster ready in ${cluster.startMs} ms, shell image imported in ${cluster.importMs} ms`);
    config = loadConfig({
      TERMLAB_INSTANCE: instance, TERMLAB_BACKEND: 'kubernetes', TERMLAB_KUBECONFIG: cluster.kubeconfigPath,
      TERMLAB_SHELL_MEMORY_MB: '256', TERMLAB_SHELL_CPUS: '0.5', TERMLAB_SHELL_DISK_MB: '256',
    });
    driver = await createKubernetesDriver(config, createLogger('silent'));
    core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  });
  after(async () => {
    await driver?.removeLeftovers().catch(() => {});
    await cluster?.stop();
  });

  test('refuses what it cannot isolate: the nested-cluster profile, and docker without a sandboxed RuntimeClass', () => {
    assert.match(driver.available('kubernetes') ?? '', /kubernetes profile .* does not run on the Kubernetes backend/);
    assert.match(driver.available('docker') ?? '', /TERMLAB_KUBE_RUNTIME_CLASS/);
    assert.equal(driver.available('shell'), undefined);
  });

  test('a box is a pod in its session namespace, fenced by Pod Security, quota, limits and a NetworkPolicy', async (t) => {
    const started = Date.now();
    alpha = await driver.create({ session: 's1', profile: 'shell', hostname: 'alpha', internet: false });
    const shell = driver.openShell(alpha, { cols: 80, rows: 24 });
    const screen = new Screen(shell);
    await screen.waitFor(/alpha:~# /);
    createToPromptMs = Date.now() - started;
    t.diagnostic(`session create to first prompt: ${createToPromptMs} ms`);
    shell.kill();

    const ns = namespaceName('tl-', instance, 's1');
    const namespace = await core.readNamespace({ name: ns });
    assert.equal(namespace.metadata?.labels?.['termlab.instance'], instance);
    assert.equal(namespace.metadata?.labels?.['termlab.session'], 's1');
    assert.equal(namespace.metadata?.labels?.['termlab.replica'], config.replica);
    assert.equal(namespace.metadata?.labels?.['pod-security.kubernetes.io/enforce'], 'baseline');
    const quota = await core.readNamespacedResourceQuota({ name: 'session', namespace: ns });
    assert.deepEqual([quota.spec?.hard?.pods, quota.spec?.hard?.['limits.memory']], ['1', '256Mi']);
    const range = await core.readNamespacedLimitRange({ name: 'session', namespace: ns });
    assert.equal(range.spec?.limits[0]?.max?.memory, '256Mi');
    const policy = await cluster.kubeConfig.makeApiClient(NetworkingV1Api).readNamespacedNetworkPolicy({ name: 'session-only', namespace: ns });
    assert.deepEqual(policy.spec?.policyTypes, ['Ingress', 'Egress']);
    const pod = await core.readNamespacedPod({ name: 'alpha', namespace: ns });
    assert.equal(pod.spec?.automountServiceAccountToken, false);
    assert.equal(pod.spec?.shareProcessNamespace, true);
    assert.ok((pod.spec?.activeDeadlineSeconds ?? 0) >= 2 * 60 * 60);
    assert.equal(pod.spec?.containers[0]?.resources?.limits?.memory, '256Mi');

    // Inside: root, hostname = the lab host, no token, pause as PID 1 (it reaps orphans), the memory limit.
    const inside = await driver.runScript(alpha, 'echo "$(id -u) $(hostname) $(cat /proc/1/comm)"; ls /var/run/secrets 2>&1 | head -1; cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max', 10_000);
    const [who, secrets, memory] = inside.output.split('\n');
    assert.equal(who, '0 alpha pause');
    assert.match(secrets ?? '', /No such file or directory/);
    assert.equal(memory, String(256 * 2 ** 20));
  });

  test('a terminal: typing echoes, resize reaches the pty, a flood is held back by pause and stopped by Ctrl-C', async (t) => {
    const shell = driver.openShell(alpha, { cols: 80, rows: 24 });
    const screen = new Screen(shell);
    await screen.waitFor(/alpha:~# /);
    screen.clear();
    shell.write('echo typed-$((6*7))\r');
    await screen.waitFor(/typed-42/);

    // Echo latency: one key, its echo, 50 times.
    shell.write('cat\r');
    await screen.waitFor(/cat\r\n/);
    const rtts: number[] = [];
    for (let i = 0; i < 50; i++) {
      const before = screen.bytes;
      const t0 = process.hrtime.bigint();
      shell.write('x');
      await screen.waitFor((s) => s.bytes > before);
      rtts.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    screen.clear();
    shell.write('\x03');
    await screen.waitFor(/alpha:~# $/);
    rtts.sort((a, b) => a - b);
    t.diagnostic(`echo p50 ${rtts[24]!.toFixed(2)} ms, p90 ${rtts[44]!.toFixed(2)} ms, max ${rtts[49]!.toFixed(2)} ms`);

    shell.resize(123, 41);
    screen.clear();
    shell.write('stty size\r');
    await screen.waitFor(/41 123/);

    // A flood: 20 MiB arrive...
    screen.clear();
    const floodStart = screen.bytes;
    const t0 = Date.now();
    shell.write('yes flood-line-of-output | head -c 20000000; echo flood-$((1+1))-done\r');
    await screen.waitFor(/flood-2-done/, 60_000);
    const mib = (screen.bytes - floodStart) / 2 ** 20;
    t.diagnostic(`20 MB flood: ${mib.toFixed(1)} MiB in ${Date.now() - t0} ms`);
    assert.ok(mib >= 19);

    // ...an endless one stops arriving while paused, goes on after resume, and ends at Ctrl-C.
    shell.write('yes\r');
    const flowing = screen.bytes;
    await screen.waitFor((s) => s.bytes > flowing + 2 ** 20);
    shell.pause();
    const paused = screen.bytes;
    await new Promise((r) => setTimeout(r, 1000)); // a window to measure, not a synchronisation
    const duringPause = screen.bytes - paused;
    t.diagnostic(`bytes delivered in 1 s of pause: ${duringPause}`);
    assert.ok(duringPause < 512 * 1024, `paused, yet ${duringPause} bytes arrived`);
    shell.resume();
    const resumed = screen.bytes;
    await screen.waitFor((s) => s.bytes > resumed + 2 ** 20);
    shell.write('\x03');
    screen.clear();
    shell.write('echo after-$((2+3))\r');
    await screen.waitFor(/after-5\r\n.*alpha:~# /s, 60_000);
    shell.kill();
  });

  test('a second openShell after the first went re-attaches to the same shell, and the old attach client is killed', async () => {
    const first = driver.openShell(alpha, { cols: 80, rows: 24 });
    const one = new Screen(first);
    await one.waitFor(/alpha:~# /);
    first.write('cd /etc; KEPT=value-$((40+2)); echo set-done\r');
    await one.waitFor(/set-done\r\n/);
    first.kill(); // the exec stream goes; Kubernetes leaves its client process behind

    const second = driver.openShell(alpha, { cols: 90, rows: 30 });
    const two = new Screen(second);
    second.write('echo "state=$KEPT pwd=$PWD size=$(stty size)"\r');
    await two.waitFor(/state=value-42 pwd=\/etc size=30 90/);
    const clients = await driver.runScript(alpha, "pgrep -f '^tl-attach-0-' | wc -l; pgrep -x dtach | wc -l", 10_000);
    assert.equal(clients.output, '1\n2', 'one attach client and one master (both named dtach) left');

    // `exit` ends the shell: the terminal reports it, and the next openShell gets a fresh one.
    const exited = new Promise<number>((resolve) => second.onExit(resolve));
    second.write('exit\r');
    assert.equal(await exited, 0);
    const third = driver.openShell(alpha, { cols: 80, rows: 24 });
    const three = new Screen(third);
    third.write('echo "fresh=${KEPT:-none} pwd=$PWD"\r');
    await three.waitFor(/fresh=none pwd=\/root/);
    third.kill();
  });

  test('checks: output trimmed, exit codes kept, the timeout enforced inside the pod', async () => {
    const ok = await driver.runScript(alpha, 'echo "  out  "; echo err >&2', 10_000);
    assert.deepEqual(ok, { exitCode: 0, output: 'out\nerr', timedOut: false });
    const failed = await driver.runScript(alpha, 'echo nope; exit 3', 10_000);
    assert.deepEqual(failed, { exitCode: 3, output: 'nope', timedOut: false });
    const t0 = Date.now();
    const slow = await driver.runScript(alpha, 'echo started; sleep 31', 1500);
    const took = Date.now() - t0;
    assert.equal(slow.timedOut, true);
    assert.equal(slow.exitCode, 124);
    assert.equal(slow.output, 'started');
    assert.ok(took < 5000, `took ${took} ms`);
    const left = await driver.runScript(alpha, "pgrep -f 'sleep 3[1]' || echo none", 10_000);
    assert.equal(left.output, 'none');
  });

  test('disk use: what the learner writes is counted (enforced by the kubelet where nodes account ephemeral storage)', async () => {
    // The test cluster's kubelet runs without localStorageCapacityIsolation: the driver then measures.
    assert.equal(driver.enforcesDisk, false);
    assert.equal(driver.diskQuotaBytes('shell'), 256 * 2 ** 20);
    const before = await driver.writableBytes(alpha);
    assert.equal((await driver.runScript(alpha, 'head -c 20971520 /dev/zero > /root/big', 10_000)).exitCode, 0);
    const after = await driver.writableBytes(alpha);
    assert.ok(after - before >= 20 * 2 ** 20 && after - before < 21 * 2 ** 20, `${before} -> ${after}`);
    await driver.runScript(alpha, 'rm /root/big', 10_000);
  });

  test('dial reaches a port served in the pod, and reports a closed port as ECONNREFUSED', async (t) => {
    // netcat-openbsd is in the shell image: one HTTP reply, detached so the exec ends at once.
    const serve = await driver.runScript(alpha, "printf 'HTTP/1.0 200 OK\\r\\n\\r\\nhello-from-pod\\n' > /tmp/reply; " +
      'setsid nc -N -l 8080 < /tmp/reply > /dev/null 2>&1 & ' +
      "for i in $(seq 100); do ss -ltn | grep -q ':8080 ' && exit 0; sleep 0.05; done; exit 1", 10_000);
    assert.equal(serve.exitCode, 0);
    const t0 = Date.now();
    const conn = driver.dial(alpha, 8080);
    conn.once('data', () => t.diagnostic(`dial: first byte of the reply after ${Date.now() - t0} ms`));
    conn.write('GET / HTTP/1.0\r\n\r\n');
    const reply = await readAll(conn);
    t.diagnostic(`dial: connection ended after ${Date.now() - t0} ms (the port-forward stream closes ~1 s after the pod side did)`);
    assert.match(reply, /^HTTP\/1\.0 200 OK\r\n\r\nhello-from-pod/);

    const closed = driver.dial(alpha, 8099);
    await assert.rejects(readAll(closed), (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED');
  });

  test('two hosts of a session reach each other by name', async () => {
    const beta = await driver.create({ session: 's1', profile: 'shell', hostname: 'beta', internet: false });
    const quota = await core.readNamespacedResourceQuota({ name: 'session', namespace: namespaceName('tl-', instance, 's1') });
    assert.equal(quota.spec?.hard?.pods, '2');
    const listen = await driver.runScript(beta, 'setsid sh -c "nc -l 9000 > /tmp/got" < /dev/null > /dev/null 2>&1 & ' +
      "for i in $(seq 100); do ss -ltn | grep -q ':9000 ' && exit 0; sleep 0.05; done; exit 1", 10_000);
    assert.equal(listen.exitCode, 0);
    const sent = await driver.runScript(alpha, 'getent hosts beta | awk \'{print $2}\'; echo hello-beta | nc -N -w 5 beta 9000 && echo sent', 15_000);
    assert.match(sent.output, /^beta\.hosts\..*\nsent$/);
    const got = await driver.runScript(beta, 'for i in $(seq 100); do [ -s /tmp/got ] && break; sleep 0.05; done; cat /tmp/got', 10_000);
    assert.equal(got.output, 'hello-beta');
    await driver.destroy(beta);
    assert.ok(await isGone(() => core.readNamespacedPod({ name: 'beta', namespace: namespaceName('tl-', instance, 's1') })));
    // alpha's namespace stays while alpha lives.
    await core.readNamespace({ name: namespaceName('tl-', instance, 's1') });
  });

  test('destroying the session\'s last box deletes its namespace and everything in it', async (t) => {
    const ns = namespaceName('tl-', instance, 's1');
    const t0 = Date.now();
    await driver.destroy(alpha);
    t.diagnostic(`namespace deleted and gone in ${Date.now() - t0} ms`);
    assert.ok(await isGone(() => core.readNamespace({ name: ns })));
    const pods = await core.listPodForAllNamespaces({ labelSelector: 'termlab.session=s1' });
    assert.equal(pods.items.filter((p) => p.metadata?.namespace === ns).length, 0);
  });

  test('removeLeftovers deletes this instance\'s namespaces, but not a live replica\'s nor another instance\'s', async () => {
    const mine = namespaceName('tl-', instance, 'crashed');
    const live = namespaceName('tl-', instance, 'on-a-live-replica');
    const other = namespaceName('tl-', `${instance}-other`, 'keep');
    await core.createNamespace({ body: { metadata: { name: mine, labels: { 'termlab.instance': instance, 'termlab.session': 'crashed', 'termlab.replica': 'gone-1' } } } });
    await core.createNamespace({ body: { metadata: { name: live, labels: { 'termlab.instance': instance, 'termlab.session': 'x', 'termlab.replica': 'live-2' } } } });
    await core.createNamespace({ body: { metadata: { name: other, labels: { 'termlab.instance': `${instance}-other`, 'termlab.session': 'keep' } } } });
    await driver.removeLeftovers(new Set(['live-2']));
    assert.ok(await isGone(() => core.readNamespace({ name: mine })));
    assert.equal((await core.readNamespace({ name: live })).status?.phase, 'Active');
    assert.equal((await core.readNamespace({ name: other })).status?.phase, 'Active');
    // Without a spare set (the server's stop), the live replica's goes too; the other instance's never.
    await driver.removeLeftovers();
    assert.ok(await isGone(() => core.readNamespace({ name: live })));
    assert.equal((await core.readNamespace({ name: other })).status?.phase, 'Active');
    await core.deleteNamespace({ name: other });
  });

  // Last: it changes the cluster (a policy controller). Without one, the bridge CNI ignores
  // NetworkPolicy altogether (study §4), so this is what shows the session's policy isolates.
  test('with a policy controller, a session\'s pods are unreachable from another session, reachable within it', async (t) => {
    const t0 = Date.now();
    await enableNetworkPolicy(cluster);
    t.diagnostic(`kube-router running in ${Date.now() - t0} ms`);
    const [gamma, delta, epsilon] = await Promise.all([
      driver.create({ session: 's2', profile: 'shell', hostname: 'gamma', internet: false }),
      driver.create({ session: 's2', profile: 'shell', hostname: 'delta', internet: false }),
      driver.create({ session: 's3', profile: 'shell', hostname: 'epsilon', internet: false }),
    ]);
    const ns2 = namespaceName('tl-', instance, 's2');
    // Synchronise on kube-router having written this namespace's policy (its rules name it).
    await cluster.kubectl(`get ns ${ns2}`);
    await sh(cluster.docker, cluster.box.id, `for i in $(seq 300); do iptables-save | grep -q 'namespace ${ns2}' && exit 0; sleep 0.1; done; exit 1`, 40_000);
    const listen = await driver.runScript(gamma, 'setsid nc -lk 9100 < /dev/null > /dev/null 2>&1 & ' +
      "for i in $(seq 100); do ss -ltn | grep -q ':9100 ' && exit 0; sleep 0.05; done; exit 1", 10_000);
    assert.equal(listen.exitCode, 0);
    const ip = (await core.readNamespacedPod({ name: 'gamma', namespace: ns2 })).status?.podIP;
    assert.match(ip ?? '', /^\d+\.\d+\.\d+\.\d+$/);

    // Retried: kube-router adds the new pods to its sets as it sees them; once delta gets through, both are in.
    const same = await driver.runScript(delta, `for i in $(seq 20); do nc -z -w 1 ${ip} 9100 && echo reached && exit 0; sleep 0.1; done; echo refused`, 60_000);
    assert.equal(same.output, 'reached', 'a host of the same session connects');
    const other = await driver.runScript(epsilon, `nc -z -w 3 ${ip} 9100 && echo reached || echo refused`, 10_000);
    assert.equal(other.output, 'refused', 'a host of another session does not');

    // The control: without the two sessions' policies (gamma's ingress, epsilon's egress), the same connection goes through.
    const net = cluster.kubeConfig.makeApiClient(NetworkingV1Api);
    for (const namespace of [ns2, namespaceName('tl-', instance, 's3')]) await net.deleteNamespacedNetworkPolicy({ name: 'session-only', namespace });
    const open = await driver.runScript(epsilon, `for i in $(seq 20); do nc -z -w 1 ${ip} 9100 && echo reached && exit 0; sleep 0.1; done; echo refused`, 60_000);
    assert.equal(open.output, 'reached');
    await Promise.all([gamma, delta, epsilon].map((b) => driver.destroy(b)));
  });
});
