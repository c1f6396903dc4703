// A real single-node Kubernetes cluster for the Kubernetes backend's tests: termlab's own
// kubernetes box (the Helm lab's), reached from the host at the box's IP, with the sandbox images
// imported into its containerd (docs/kubernetes-study.md §1-2: ~8 s to ready, ~5 s per image).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type Docker from 'dockerode';
import { KubeConfig } from '@kubernetes/client-node';
import { createBox, removeLeftovers, type Box, type BoxLimits } from '../../server/sandbox/boxes.js';
import type { Profile } from '../../server/sandbox/images.js';
import { runscKey } from '../../server/sandbox/runsc.js';
import { engineAndImages, sh, stateDir } from '../server/sandbox/helpers.js';

/** Room for the cluster (~500 MiB idle, ~1.7 GiB with both images and ~10 pods) and the imported images in containerd's tmpfs. */
export const CLUSTER_LIMITS: BoxLimits = { memoryMb: 2560, pids: 2048, cpus: 1.5, diskMb: 2048 };

/** The box's containerd for Kubernetes (not the box's own engine's): `ctr` needs its socket. */
const CONTAINERD = '/run/containerd-k8s/containerd.sock';

export interface KubeCluster {
  docker: Docker;
  box: Box;
  /** A kubeconfig file on the host: the box's admin config at https://<box IP>:6443, tls-server-name the box's name. */
  kubeconfigPath: string;
  kubeConfig: KubeConfig;
  /** The sandbox images as the Docker backend built them (termlab/<profile>:<hash>), the refs pods name. */
  images: Record<Profile, string>;
  startMs: number;
  importMs: number;
  /** The RuntimeClass running pods under gVisor, when the cluster was started with `gvisor`. */
  runtimeClass?: string;
  /** kubectl in the box (cluster-admin), trimmed stdout; fails on a non-zero exit. */
  kubectl(args: string, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

/** kube-router in policy-only mode: enforces NetworkPolicy on the box's bridge CNI (study §4: the bridge alone does not). */
const KUBE_ROUTER_MODULE = 'github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@v2.1.0';

/**
 * Starts kube-router (v2.1.0, built with the host's Go from the module proxy into the state cache
 * on first use: ~2 min cold, seconds with Go's build cache) in the cluster box, with Debian's ipset
 * it needs, and returns once its firewall chains are in place.
 */
export async function enableNetworkPolicy(cluster: KubeCluster): Promise<void> {
  const cache = path.join(stateDir, 'cache', 'kube-router-v2.1.0');
  const bin = path.join(cache, 'kube-router');
  if (!existsSync(bin)) {
    mkdirSync(cache, { recursive: true });
    await run(`cd ${cache} && GOBIN=${cache}/.bin CGO_ENABLED=0 GOFLAGS=-trimpath go install -ldflags='-s -w' ${KUBE_ROUTER_MODULE} && mv .bin/kube-router kube-router`);
  }
  const ipset = path.join(cache, 'ipset-root');
  if (!existsSync(path.join(ipset, 'usr', 'sbin', 'ipset'))) {
    await run(`cd ${cache} && rm -rf debs ipset-root && mkdir debs && cd debs && apt-get download ipset libipset13 >/dev/null && ` +
      `for d in *.deb; do dpkg-deb -x "$d" ../ipset-root; done`);
  }
  const id = cluster.box.id;
  await run(`tar -C ${ipset} -cf - . | docker exec -i ${id} tar -C / --no-overwrite-dir -xf - && docker cp ${bin} ${id}:/usr/local/bin/kube-router`);
  await run(`docker exec -d ${id} sh -c 'exec kube-router --kubeconfig=/etc/kubernetes/admin.conf --run-firewall=true --run-router=false ` +
    `--run-service-proxy=false --enable-cni=false --enable-ibgp=false --enable-overlay=false --hostname-override=${cluster.box.hostname} ` +
    `--service-cluster-ip-range=10.96.0.0/16 --health-port=0 --metrics-port=0 > /var/log/k8s/kube-router.log 2>&1'`);
  await sh(cluster.docker, id, 'for i in $(seq 300); do iptables -S | grep -q KUBE-ROUTER && exit 0; sleep 0.1; done; tail -5 /var/log/k8s/kube-router.log; exit 1', 40_000);
}

export interface KubeClusterOptions {
  /**
   * Offer gVisor as RuntimeClass `gvisor` (KubeCluster.runtimeClass), for the docker profile. Only
   * tests that need it pay for it: runsc and its containerd shim built on first use (~3 min and
   * ~20 s cold), a containerd restart in the box (~1 s), and a cluster box without the seccomp
   * rule against nested user namespaces, which runsc makes for its sandbox and gofer (the box stays
   * user-namespace-remapped on the host).
   */
  gvisor?: boolean;
}

export const GVISOR_RUNTIME_CLASS = 'gvisor';
const BUILD_RUNSC = fileURLToPath(new URL('../../scripts/build-runsc.sh', import.meta.url));

/**
 * containerd 1.6 (Debian bookworm's, the box's) reads a shim's `start` output as a bare socket
 * address; gVisor's shim, built on containerd 2's shim library, prints containerd 2's bootstrap
 * JSON ({"version":2,"address":"unix:///...","protocol":"ttrpc"}), and the pod then fails with
 * "dial unix {...}: connect: invalid argument". The task API behind it is the same, so the address
 * alone is enough.
 */
const SHIM_WRAPPER = `#!/bin/sh
# termlab test cluster (test/helpers/kube-cluster.ts): gVisor's shim, its start output made containerd 1.6's.
eval "action=\\\${$#}"
[ "$action" = start ] || exec /usr/local/lib/runsc/containerd-shim-runsc-v1 "$@"
out=$(/usr/local/lib/runsc/containerd-shim-runsc-v1 "$@") || exit $?
addr=$(printf '%s' "$out" | sed -n 's/.*"address":"\\([^"]*\\)".*/\\1/p')
printf '%s' "\${addr:-$out}"
`;

/** The runsc runtime handler (appended to the box's containerd config) and runsc's own flags. */
const RUNSC_HANDLER = `
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc]
  runtime_type = "io.containerd.runsc.v1"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc.options]
    TypeUrl = "io.containerd.runsc.v1.options"
    ConfigPath = "/etc/containerd/runsc.toml"
`;
// --net-raw: the docker profile's inner dockerd needs raw sockets, as the Docker backend's
// termlab-runsc-dind runtime gives it (server/sandbox/engine.ts).
const RUNSC_CONFIG = `binary_name = "/usr/local/bin/runsc"
[runsc_config]
  net-raw = "true"
`;

/**
 * runsc (scripts/build-runsc.sh, the cache server/sandbox/runsc.ts uses, without touching the
 * engine's runtimes) and gVisor's containerd shim of the same pinned version, built like kube-router.
 */
async function gvisorBinaries(): Promise<{ runsc: string; shim: string }> {
  const runscDir = path.join(stateDir, 'cache', 'runsc', runscKey());
  await run(`bash ${BUILD_RUNSC} ${runscDir}`);
  const version = /RUNSC_VERSION=\$\{RUNSC_VERSION:-([^}]+)\}/.exec(readFileSync(BUILD_RUNSC, 'utf8'))?.[1];
  if (!version) throw new Error(`no RUNSC_VERSION pin in ${BUILD_RUNSC}`);
  const cache = path.join(stateDir, 'cache', `runsc-shim-${version}`);
  const shim = path.join(cache, 'containerd-shim-runsc-v1');
  if (!existsSync(shim)) {
    mkdirSync(cache, { recursive: true });
    await run(`cd ${cache} && PATH=/usr/local/go/bin:$PATH GOBIN=${cache}/.bin CGO_ENABLED=0 GOFLAGS=-trimpath GOWORK=off ` +
      `go install -ldflags='-s -w' gvisor.dev/gvisor/shim@${version} && mv .bin/shim containerd-shim-runsc-v1`);
  }
  return { runsc: path.join(runscDir, 'runsc'), shim };
}

/**
 * Installs runsc and its shim in the cluster box, adds the `runsc` handler to the box's containerd
 * (start.sh wrote its config and started it: a restart reads the handler; the kubelet reconnects)
 * and makes RuntimeClass `gvisor` for it.
 */
async function enableGvisor(docker: Docker, box: Box): Promise<void> {
  const { runsc, shim } = await gvisorBinaries();
  await sh(docker, box.id, 'mkdir -p /usr/local/lib/runsc');
  await run(`docker cp ${runsc} ${box.id}:/usr/local/bin/runsc && docker cp ${shim} ${box.id}:/usr/local/lib/runsc/containerd-shim-runsc-v1`);
  const write = (file: string, text: string, mode = '644'): string => `cat > ${file} <<'EOF'\n${text}EOF\nchmod ${mode} ${file}\n`;
  await sh(docker, box.id, write('/usr/local/bin/containerd-shim-runsc-v1', SHIM_WRAPPER, '755') + write('/etc/containerd/runsc.toml', RUNSC_CONFIG) +
    `cat >> /etc/containerd/k8s.toml <<'EOF'\n${RUNSC_HANDLER}EOF\n` +
    // The Kubernetes containerd only (the box may run other containerd processes).
    'for p in $(pgrep -x containerd); do grep -q k8s.toml /proc/$p/cmdline && pid=$p; done; [ -n "$pid" ] || exit 1\n' +
    'kill $pid; for i in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done\n' +
    'setsid containerd --config /etc/containerd/k8s.toml >> /var/log/k8s/containerd.log 2>&1 < /dev/null &\n' +
    `for i in $(seq 200); do ctr -a ${CONTAINERD} version >/dev/null 2>&1 && break; sleep 0.05; done\n` +
    `printf 'apiVersion: node.k8s.io/v1\\nkind: RuntimeClass\\nmetadata: {name: ${GVISOR_RUNTIME_CLASS}}\\nhandler: runsc\\n' | kubectl apply -f - >/dev/null\n` +
    'for i in $(seq 100); do kubectl get node -o jsonpath=\'{.items[0].status.conditions[?(@.type=="Ready")].status}\' | grep -q True && exit 0; sleep 0.1; done; exit 1', 60_000);
}

function run(script: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-o', 'pipefail', '-c', script], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${script} exited ${code}: ${err.trim()}`))));
  });
}

/**
 * Starts the cluster box under `instance` (removeLeftovers(instance) takes it), writes a host
 * kubeconfig for it and imports `profiles`' images into its containerd; with `options.gvisor`, also
 * RuntimeClass `gvisor` (KubeClusterOptions).
 */
export async function startKubeCluster(instance: string, profiles: Profile[] = ['shell'], options: KubeClusterOptions = {}): Promise<KubeCluster> {
  const { docker, images } = await engineAndImages();
  const started = Date.now();
  const box = await createBox(docker, {
    instance, session: 'cluster', profile: 'kubernetes', image: images.kubernetes, limits: CLUSTER_LIMITS, internet: false,
    ...(options.gvisor ? { weaken: { noSeccomp: true } } : {}),
  });
  const startMs = Date.now() - started;
  try {
    // The apiserver's certificate names the box's hostname, not its IP: keep the IP, name the host for TLS.
    const kc = new KubeConfig();
    kc.loadFromString(await sh(docker, box.id, 'cat /root/.kube/config'));
    kc.loadFromOptions({
      clusters: kc.clusters.map((c) => ({ ...c, server: `https://${box.ip}:6443`, tlsServerName: box.hostname })),
      users: kc.users, contexts: kc.contexts, currentContext: kc.currentContext,
    });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'termlab-kube-'));
    const kubeconfigPath = path.join(dir, 'kubeconfig');
    writeFileSync(kubeconfigPath, kc.exportConfig(), { mode: 0o600 });
    const importing = Date.now();
    for (const profile of profiles) {
      await run(`docker save ${images[profile]} | docker exec -i ${box.id} ctr -a ${CONTAINERD} -n k8s.io images import -`);
    }
    const importMs = Date.now() - importing;
    if (options.gvisor) await enableGvisor(docker, box);
    return {
      docker, box, kubeconfigPath, kubeConfig: kc, images, startMs, importMs,
      ...(options.gvisor ? { runtimeClass: GVISOR_RUNTIME_CLASS } : {}),
      kubectl: (args, timeoutMs = 30_000) => sh(docker, box.id, `kubectl ${args}`, timeoutMs),
      stop: async () => {
        await removeLeftovers(docker, instance, () => {});
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await removeLeftovers(docker, instance, () => {});
    throw err;
  }
}
