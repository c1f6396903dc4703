// The Kubernetes implementation of the sandbox layer's interface (sandbox-driver.ts): a session is
// a namespace, each of its lab hosts a pod in it (manifests.ts says what fences them). Terminals,
// checks and port links go through the API server (exec, port-forward), so the server needs no
// route to the pods and no process per terminal.
import type { Duplex } from 'node:stream';
import { CoreV1Api, KubeConfig, NetworkingV1Api, type Exec } from '@kubernetes/client-node';
import type { SandboxProfile } from '../../../protocol/api.js';
import type { Config, KubernetesSettings } from '../../config.js';
import type { Logger } from '../../log.js';
import { contextHash, IMAGE_REPO } from '../images.js';
import type { BoxHandle, BoxRequest, BoxShell, SandboxDriver, ScriptResult } from '../sandbox-driver.js';
import { dtachShell } from './dtach-shell.js';
import { execCollect, makeExec, type PodRef } from './exec.js';
import { hostPod, namespaceName, type SessionSpec } from './manifests.js';
import { dialPod } from './port-dial.js';
import { deleteNamespace, ensureSession, instanceNamespaces, isCode, setQuota, waitRunning, type Apis } from './session-namespace.js';

export interface KubernetesDriver extends SandboxDriver {
  readonly kubeConfig: KubeConfig;
  /** What GET /api/profiles reports: images come from a registry, nothing is prepared here. */
  readonly preparation: {
    statuses(): Record<string, never>;
    status(profile: SandboxProfile): undefined;
    refusal(profile: SandboxProfile): undefined;
  };
  prepareInBackground(): void;
}

/**
 * A box's handle is plain data (the session's record keeps it, so another replica can adopt the
 * session): `baseline` is the root filesystem's size at creation where disks are walked.
 */
type KubeBox = BoxHandle & PodRef & { baseline?: number };

/** A pod that is not running by then will not be (an image that cannot be pulled fails earlier). */
const POD_START_MS = 120_000;
/** A namespace's deletion is ~5 s (study §7); past this its finalizers are stuck and the next sweep retries. */
const NAMESPACE_GONE_MS = 90_000;
/** Output kept from a script, as the Docker backend keeps. */
const SCRIPT_MAX_BYTES = 64 * 1024;

/** The KubeConfig from a file (its current context, tls-server-name honoured) or, without one, in-cluster. */
export function loadKubeConfig(settings: Pick<KubernetesSettings, 'kubeconfig'>): KubeConfig {
  const kc = new KubeConfig();
  if (settings.kubeconfig) kc.loadFromFile(settings.kubeconfig);
  else kc.loadFromCluster();
  return kc;
}

/** The image of each profile's pods: configured (a registry), else the ref the Docker backend builds (tests import it into the node). */
export function imageFor(settings: KubernetesSettings, profile: SandboxProfile): string {
  const shellRef = `${IMAGE_REPO.shell}:${contextHash('shell')}`;
  if (profile === 'shell') return settings.images.shell ?? shellRef;
  if (profile === 'docker') return settings.images.docker ?? `${IMAGE_REPO.docker}:${contextHash('docker', shellRef)}`;
  throw new Error(`no pod image for the ${profile} profile`);
}

/**
 * Whether the nodes account ephemeral storage (some node has it allocatable). A server not allowed
 * to list nodes assumes they do, as a production cluster's kubelets do by default.
 */
async function nodesAccountDisk(apis: Apis): Promise<boolean> {
  try {
    const nodes = await apis.core.listNode();
    return nodes.items.some((n) => n.status?.allocatable?.['ephemeral-storage'] !== undefined);
  } catch (err) {
    if (isCode(err, 403)) return true;
    throw err;
  }
}

/**
 * The bytes of the box's root filesystem as a walk sees them (`du -x`: its mounts, /proc and the
 * like, left out; deleted-but-open files not seen), ~50 ms for the shell image.
 */
async function rootBytes(exec: Exec, box: PodRef): Promise<number> {
  const r = await execCollect(exec, box, ['sh', '-c', 'du -sxb / 2>/dev/null | cut -f1'], { abortAfterMs: 30_000 });
  const bytes = Number(r.stdout.trim());
  if (!Number.isFinite(bytes) || r.stdout.trim() === '') throw new Error(`cannot measure the disk of ${box.namespace}/${box.pod}: ${r.stderr.trim()}`);
  return bytes;
}

/** Until a docker box's entrypoint has started its inner engine and loaded the exercise images (a few seconds under gVisor). */
const DOCKER_READY_MS = 90_000;

/**
 * Waits for a docker box's entrypoint (images/docker/entrypoint.sh, the pod's main process) to
 * finish, as the Docker backend waits for its "termlab-box: ready" line: it then execs `sleep`,
 * and the engine answers. Exec rather than the pod's log, which would need pods/log in the RBAC.
 * A failed entrypoint exits, and with it the container: the exec then fails too.
 */
async function waitDockerReady(exec: Exec, box: PodRef): Promise<void> {
  // pgrep -x matches the process name, cut to 15 characters: termlab-box-init is "termlab-box-ini".
  const seconds = Math.ceil(DOCKER_READY_MS / 1000);
  const script = `for i in $(seq ${seconds * 10}); do pgrep -x termlab-box-ini >/dev/null || exec docker info --format '{{.ServerVersion}}'; sleep 0.1; done; ` +
    'echo "the docker box\'s entrypoint did not finish" >&2; exit 124';
  const r = await execCollect(exec, box, ['sh', '-c', script], { abortAfterMs: DOCKER_READY_MS + 5000 });
  if (r.exitCode !== 0) throw new Error(`docker box ${box.namespace}/${box.pod} not ready (exit ${r.exitCode}): ${(r.stderr || r.stdout).trim()}`);
}

export interface KubernetesDriverOptions {
  /** The live replicas sharing this instance: the sweep at start leaves their sessions. */
  spareAtStart?: ReadonlySet<string>;
  /** Sessions live replicas adopted from gone ones: the sweep at start leaves them too. */
  spareSessionsAtStart?: ReadonlySet<string>;
}

export async function createKubernetesDriver(config: Config, log: Logger, progress: (line: string) => void = () => {},
  options: KubernetesDriverOptions = {}): Promise<KubernetesDriver> {
  const settings = config.kubernetes;
  const kc = loadKubeConfig(settings);
  const apis: Apis = { core: kc.makeApiClient(CoreV1Api), net: kc.makeApiClient(NetworkingV1Api) };
  const exec: Exec = makeExec(kc);
  // The pod's own deadline, a backstop behind the sweeper: it can only be lowered, so it covers every extension.
  const deadlineSeconds = Math.ceil((config.maxLifetimeMs + config.history.extensions * config.history.extendMs) / 1000) + 60;
  const images: Partial<Record<SandboxProfile, string>> = {};
  /** Pods of each namespace this server holds: the last one destroyed takes its namespace along. */
  const live = new Map<string, Set<string>>();
  /** Each namespace's creates run one after the other: the quota's host count and the objects stay consistent. */
  const queues = new Map<string, Promise<unknown>>();
  /** Terminal slots in use per box, for callers that name none: each takes the lowest free one. */
  const slots = new Map<string, Set<number>>();

  const available = (profile: SandboxProfile): string | undefined => {
    if (profile === 'kubernetes') {
      return 'the kubernetes profile (a cluster per learner) does not run on the Kubernetes backend: its nested cluster needs a privileged pod and a cgroup hand-over';
    }
    if (profile === 'docker' && !settings.runtimeClass) {
      return 'the docker profile on the Kubernetes backend needs TERMLAB_KUBE_RUNTIME_CLASS (a sandboxed runtime such as gVisor or Kata): its pods have every capability and no seccomp, root on the node otherwise';
    }
    return undefined;
  };

  const serial = <T>(key: string, work: () => Promise<T>): Promise<T> => {
    const run = (queues.get(key) ?? Promise.resolve()).then(work, work);
    const settled = run.catch(() => {});
    queues.set(key, settled);
    void settled.then(() => { if (queues.get(key) === settled) queues.delete(key); });
    return run;
  };

  const sweep = async (spare?: ReadonlySet<string>, spareSessions?: ReadonlySet<string>): Promise<void> => {
    const names = await instanceNamespaces(apis, config.instance, spare, spareSessions);
    for (const name of names) live.delete(name);
    const gone = await Promise.all(names.map((name) => deleteNamespace(apis, name, NAMESPACE_GONE_MS)));
    if (names.length > 0) log.info({ namespaces: names.length, stuck: gone.filter((g) => !g).length, instance: config.instance }, 'removed session namespaces');
  };

  // The API must answer now, not at the first learner's click; then what a crashed run left goes.
  const diskLimits = await nodesAccountDisk(apis);
  progress(`kubernetes backend: API server ${kc.getCurrentCluster()?.server}; disk ${diskLimits ? 'capped by ephemeral-storage limits' : 'not accounted by the nodes: polled'}`);
  await sweep(options.spareAtStart, options.spareSessionsAtStart);

  const driver: KubernetesDriver = {
    kubeConfig: kc,
    // Nothing is being prepared (so never "preparing"): a refused profile says why at create, from available().
    preparation: { statuses: () => ({}), status: () => undefined, refusal: () => undefined },
    prepareInBackground: () => {},
    available,
    removeLeftovers: sweep,
    place: `kubernetes:${kc.getCurrentCluster()?.server ?? ''}`,
    // Isolation is the cluster's (Pod Security admission, the session's NetworkPolicy), written per
    // session and not something this server can lose and restore, as the Docker backend's host firewall.
    checkIsolation: async () => {},
    // With ephemeral-storage accounting, the limit: the kubelet measures the pod's writable layer and
    // logs and evicts it past the limit (on its housekeeping period, ~10 s). Without it (nodes that
    // turned localStorageCapacityIsolation off, as the test cluster does) the sweeper polls writableBytes.
    enforcesDisk: diskLimits,
    diskQuotaBytes: (profile) => config.limits[profile].diskMb * 2 ** 20,

    async create(request: BoxRequest): Promise<BoxHandle> {
      const refused = available(request.profile);
      if (refused) throw new Error(refused);
      const ns = namespaceName(settings.namespacePrefix, config.instance, request.session);
      const spec: SessionSpec = { instance: config.instance, replica: config.replica, session: request.session, namespace: ns, profile: request.profile,
        limits: config.limits[request.profile], internet: request.internet, diskLimits };
      images[request.profile] ??= imageFor(settings, request.profile);
      const pod = hostPod({ ...spec, host: request.hostname, image: images[request.profile]!, deadlineSeconds, runtimeClass: settings.runtimeClass });
      const name = pod.metadata!.name!;
      await serial(ns, async () => {
        // A session's later hosts find its objects made (creating them again would hit the quota's `services: 1`).
        if (!live.has(ns)) await ensureSession(apis, spec);
        const pods = live.get(ns) ?? new Set<string>();
        await setQuota(apis, spec, pods.size + 1);
        await apis.core.createNamespacedPod({ namespace: ns, body: pod });
        pods.add(name);
        live.set(ns, pods);
      });
      try {
        await waitRunning(apis, ns, name, POD_START_MS);
        if (request.profile === 'docker') await waitDockerReady(exec, { namespace: ns, pod: name });
      } catch (err) {
        await driver.destroy({ id: `${ns}/${name}`, session: request.session, profile: request.profile, namespace: ns, pod: name } as KubeBox).catch(() => {});
        throw err;
      }
      const box: KubeBox = { id: `${ns}/${name}`, session: request.session, profile: request.profile, namespace: ns, pod: name };
      // Without disk accounting: the image's size, subtracted from later walks.
      if (!diskLimits) box.baseline = await rootBytes(exec, box);
      return box;
    },

    async destroy(handle: BoxHandle): Promise<void> {
      const box = handle as KubeBox;
      slots.delete(box.id);
      const ns = box.namespace;
      const last = await serial(ns, async () => {
        const pods = live.get(ns);
        pods?.delete(box.pod);
        if (pods && pods.size > 0) {
          await apis.core.deleteNamespacedPod({ name: box.pod, namespace: ns, gracePeriodSeconds: 0 }).catch(() => {});
          return false;
        }
        live.delete(ns);
        return true;
      });
      // The session's last box: the namespace goes, with everything in it, and is waited for so a
      // new session of the same id (a restarted lab) does not meet a terminating namespace.
      if (last && !(await deleteNamespace(apis, ns, NAMESPACE_GONE_MS))) log.warn({ namespace: ns }, 'session namespace still terminating');
    },

    openShell(handle: BoxHandle, size: { cols: number; rows: number }, terminal?: number): BoxShell {
      const box = handle as KubeBox;
      const used = slots.get(box.id) ?? new Set<number>();
      slots.set(box.id, used);
      let slot = terminal ?? 0;
      while (terminal === undefined && used.has(slot)) slot++;
      used.add(slot);
      return dtachShell(exec, box, slot, size, () => used.delete(slot));
    },

    async runScript(handle: BoxHandle, script: string, timeoutMs: number): Promise<ScriptResult> {
      const box = handle as KubeBox;
      // The timeout lives in the pod: closing the stream would not stop the script (study §5).
      const seconds = (Math.max(timeoutMs, 100) / 1000).toFixed(3);
      const started = Date.now();
      const r = await execCollect(exec, box, ['timeout', '-k', '1', seconds, 'bash', '-c', script],
        { maxBytes: SCRIPT_MAX_BYTES, abortAfterMs: timeoutMs + 5000 });
      // 124: timeout's TERM ended it; 137: its KILL, a second later. Either only once the time is up.
      const timedOut = r.timedOut || ((r.exitCode === 124 || r.exitCode === 137) && Date.now() - started >= timeoutMs);
      const output = [r.stdout.trim(), r.stderr.trim()].filter(Boolean).join('\n');
      return { exitCode: timedOut ? 124 : r.exitCode, output, timedOut };
    },

    dial(handle: BoxHandle, port: number): Duplex {
      return dialPod(kc, handle as KubeBox, port);
    },

    async writableBytes(handle: BoxHandle): Promise<number> {
      const baseline = (handle as KubeBox).baseline;
      if (baseline !== undefined) return Math.max(0, (await rootBytes(exec, handle as KubeBox)) - baseline);
      // The kubelet's own measure (the one its eviction compares with the limit), through the API
      // server's node proxy: one call, no exec. It needs `nodes/proxy` get; without it, 0.
      const box = handle as KubeBox;
      const pod = await apis.core.readNamespacedPod({ name: box.pod, namespace: box.namespace });
      const node = pod.spec?.nodeName;
      if (!node) return 0;
      const summary = JSON.parse(await apis.core.connectGetNodeProxyWithPath({ name: node, path: 'stats/summary' })) as {
        pods?: Array<{ podRef: { name: string; namespace: string }; 'ephemeral-storage'?: { usedBytes?: number } }>;
      };
      const entry = summary.pods?.find((p) => p.podRef.name === box.pod && p.podRef.namespace === box.namespace);
      return entry?.['ephemeral-storage']?.usedBytes ?? 0;
    },
  };
  return driver;
}
