// A real single-node Kubernetes cluster for the Kubernetes backend's tests: termlab's own
// kubernetes box (the Helm lab's), reached from the host at the box's IP, with the sandbox images
// imported into its containerd (docs/kubernetes-study.md §1-2: ~8 s to ready, ~5 s per image).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { KubeConfig } from '@kubernetes/client-node';
import { createBox, removeLeftovers, type Box, type BoxLimits } from '../../server/sandbox/boxes.js';
import type { Profile } from '../../server/sandbox/images.js';
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
 * kubeconfig for it and imports `profiles`' images into its containerd.
 */
export async function startKubeCluster(instance: string, profiles: Profile[] = ['shell']): Promise<KubeCluster> {
  const { docker, images } = await engineAndImages();
  const started = Date.now();
  const box = await createBox(docker, {
    instance, session: 'cluster', profile: 'kubernetes', image: images.kubernetes, limits: CLUSTER_LIMITS, internet: false,
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
    return {
      docker, box, kubeconfigPath, kubeConfig: kc, images, startMs, importMs,
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
