// A session's namespace through the API: made with its fences before the first pod, grown by one
// host's quota per pod, deleted (and waited for) when the session's last box goes.
import { ApiException, type CoreV1Api, type NetworkingV1Api, type V1Pod } from '@kubernetes/client-node';
import * as m from './manifests.js';

export interface Apis { core: CoreV1Api; net: NetworkingV1Api }

const isCode = (err: unknown, code: number): boolean => err instanceof ApiException && err.code === code;

/** Creates, treating "already there" as done: a second host of the session, or the controller-manager's own ServiceAccount. */
async function createOnce(make: () => Promise<unknown>): Promise<void> {
  try { await make(); } catch (err) { if (!isCode(err, 409)) throw err; }
}

/** The namespace and what fences it, in the order that leaves no moment without a fence before a pod exists. */
export async function ensureSession(apis: Apis, s: m.SessionSpec): Promise<void> {
  const { core, net } = apis;
  const namespace = s.namespace;
  await createOnce(() => core.createNamespace({ body: m.namespace(s) }));
  await Promise.all([
    createOnce(() => core.createNamespacedServiceAccount({ namespace, body: m.serviceAccount(s) })),
    createOnce(() => core.createNamespacedLimitRange({ namespace, body: m.limitRange(s) })),
    createOnce(() => net.createNamespacedNetworkPolicy({ namespace, body: m.networkPolicy(s) })),
    // Read first: once the quota exists (`services: 1`) a second create is refused by it, not as a conflict.
    core.readNamespacedService({ name: m.HOSTS_SERVICE, namespace }).catch((err: unknown) => {
      if (!isCode(err, 404)) throw err;
      return createOnce(() => core.createNamespacedService({ namespace, body: m.hostsService(s) }));
    }),
  ]);
}

/**
 * The quota for this many hosts (the caller serialises a session's creates, so the count is exact).
 * Returns once it is in force: admission reads the quota's status, which the quota controller
 * copies from its spec a moment later; a pod created before that is refused under the old count.
 */
export async function setQuota(apis: Apis, s: m.SessionSpec, hosts: number, timeoutMs = 30_000): Promise<void> {
  const body = m.resourceQuota(s, hosts);
  const name = 'session';
  try {
    await apis.core.createNamespacedResourceQuota({ namespace: s.namespace, body });
  } catch (err) {
    if (!isCode(err, 409)) throw err;
    const current = await apis.core.readNamespacedResourceQuota({ name, namespace: s.namespace });
    await apis.core.replaceNamespacedResourceQuota({ name, namespace: s.namespace,
      body: { ...body, metadata: { ...body.metadata, resourceVersion: current.metadata?.resourceVersion } } });
  }
  const deadline = Date.now() + timeoutMs;
  for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
    const quota = await apis.core.readNamespacedResourceQuota({ name, namespace: s.namespace });
    if (quota.status?.hard?.pods === String(hosts)) return;
    if (Date.now() > deadline) throw new Error(`quota of ${s.namespace} not in force after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** Waiting reasons that will not resolve by themselves: fail the create at once with them. */
const HOPELESS = new Set(['ErrImageNeverPull', 'ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);

/** Until the pod's container runs (no readiness probe: running is ready), or why it will not. */
export async function waitRunning(apis: Apis, namespace: string, name: string, timeoutMs: number): Promise<V1Pod> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 25; ; delay = Math.min(delay * 2, 250)) {
    const pod = await apis.core.readNamespacedPod({ name, namespace });
    const phase = pod.status?.phase;
    const state = pod.status?.containerStatuses?.[0]?.state;
    if (phase === 'Running' && state?.running) return pod;
    if (phase === 'Failed' || phase === 'Succeeded') throw new Error(`pod ${namespace}/${name} ended: ${pod.status?.reason ?? phase} ${pod.status?.message ?? ''}`.trim());
    const waiting = state?.waiting;
    if (waiting?.reason && HOPELESS.has(waiting.reason)) throw new Error(`pod ${namespace}/${name}: ${waiting.reason}: ${waiting.message ?? ''}`.trim());
    if (Date.now() > deadline) throw new Error(`pod ${namespace}/${name} not running after ${timeoutMs} ms (${phase}${waiting?.reason ? `, ${waiting.reason}` : ''})`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

/**
 * Deletes the namespace (the API then deletes everything in it) and returns once it is gone, or
 * false after timeoutMs (its finalizers still running; the next removeLeftovers tries again).
 */
export async function deleteNamespace(apis: Apis, name: string, timeoutMs: number): Promise<boolean> {
  try {
    await apis.core.deleteNamespace({ name, propagationPolicy: 'Background' });
  } catch (err) {
    if (isCode(err, 404)) return true;
    throw err;
  }
  const deadline = Date.now() + timeoutMs;
  for (let delay = 50; Date.now() < deadline; delay = Math.min(delay * 2, 500)) {
    try {
      await apis.core.readNamespace({ name });
    } catch (err) {
      if (isCode(err, 404)) return true;
      throw err;
    }
    await new Promise((r) => setTimeout(r, delay));
  }
  return false;
}

/** Namespaces this instance made (by label, never by name alone: another server's are not ours), but those of the replicas in `spare`. */
export async function instanceNamespaces(apis: Apis, instance: string, spare: ReadonlySet<string> = new Set(),
  spareSessions: ReadonlySet<string> = new Set()): Promise<string[]> {
  const list = await apis.core.listNamespace({ labelSelector: `${m.INSTANCE_LABEL}=${m.dnsLabel(instance)}` });
  const sessions = new Set([...spareSessions].map(m.dnsLabel));
  return list.items.filter((ns) => !spare.has(ns.metadata?.labels?.[m.REPLICA_LABEL] ?? '') && !sessions.has(ns.metadata?.labels?.[m.SESSION_LABEL] ?? ''))
    .map((ns) => ns.metadata!.name!);
}

export { isCode };
