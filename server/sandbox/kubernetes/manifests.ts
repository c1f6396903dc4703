// The Kubernetes objects of one session, as plain data: a namespace per session holding one pod per
// lab host, fenced by Pod Security, a quota, default limits and a namespace-only NetworkPolicy.
// Pure functions (no API calls), so what a session gets can be read in one place.
import { createHash } from 'node:crypto';
import type { V1LimitRange, V1Namespace, V1NetworkPolicy, V1Pod, V1ResourceQuota, V1Service, V1ServiceAccount } from '@kubernetes/client-node';
import type { SandboxProfile } from '../../../protocol/api.js';
import type { BoxLimits } from '../../config.js';

export const INSTANCE_LABEL = 'termlab.instance';
export const SESSION_LABEL = 'termlab.session';
/** The server (among the instance's replicas) that made the namespace: sweeps spare live replicas' sessions. */
export const REPLICA_LABEL = 'termlab.replica';
/** Pods carry it so the headless Service (and the NetworkPolicy) select only termlab's hosts. */
export const HOST_LABEL = 'termlab.host';
/** The headless Service whose name is every pod's subdomain: `<host>.hosts.<ns>.svc` resolves. */
export const HOSTS_SERVICE = 'hosts';
/** The one container of a host's pod; exec and port-forward name it. */
export const CONTAINER = 'lab';
/** The Pod Security version pinned, so a cluster upgrade does not change what is admitted. */
const PSA_VERSION = 'v1.30';
/** Private ranges a lab with internet still may not reach (the Docker backend's firewall refuses the same). */
const PRIVATE_RANGES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16', '100.64.0.0/10'];

/** A DNS label (RFC 1123, <= 63): lowercase, dashes for anything else, a hash suffix when cut. */
export function dnsLabel(raw: string, max = 63): string {
  const clean = raw.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'x';
  if (clean.length <= max) return clean;
  const hash = createHash('sha256').update(raw).digest('hex').slice(0, 8);
  return `${clean.slice(0, max - 9).replace(/-+$/, '')}-${hash}`;
}

/** The session's namespace: prefix, instance and session, so two servers (and two sessions) never share one. */
export function namespaceName(prefix: string, instance: string, session: string): string {
  return dnsLabel(`${prefix}${instance}-${session}`);
}

export interface SessionSpec {
  instance: string;
  replica?: string;
  session: string;
  namespace: string;
  profile: SandboxProfile;
  limits: BoxLimits;
  internet: boolean;
  /**
   * Whether the nodes account ephemeral storage (the kubelet's localStorageCapacityIsolation): then
   * every size below carries the profile's disk as an ephemeral-storage limit, which the kubelet
   * enforces by eviction. Without it a pod asking for any ephemeral storage is never scheduled.
   * Unset: no ephemeral-storage sizes (the driver always says; createKubernetesDriver looks at the nodes).
   */
  diskLimits?: boolean;
}

export interface HostSpec extends SessionSpec {
  host: string;
  image: string;
  /** activeDeadlineSeconds: a backstop only (it can be lowered, never raised, so it covers every extension). */
  deadlineSeconds: number;
  /** RuntimeClass for the pod (a sandboxed runtime: gVisor, Kata); the docker profile needs one. */
  runtimeClass?: string;
}

const labels = (s: SessionSpec): Record<string, string> => ({ [INSTANCE_LABEL]: dnsLabel(s.instance), [SESSION_LABEL]: dnsLabel(s.session),
  ...(s.replica ? { [REPLICA_LABEL]: dnsLabel(s.replica) } : {}) });

/**
 * Pod Security level: `baseline` for shell boxes (`restricted` is impossible, the learner is root),
 * `privileged` for docker boxes, whose inner engine needs every capability and no seccomp (the
 * driver refuses them without a sandboxed RuntimeClass).
 */
export function podSecurityLevel(profile: SandboxProfile): 'baseline' | 'privileged' {
  return profile === 'shell' ? 'baseline' : 'privileged';
}

export function namespace(s: SessionSpec): V1Namespace {
  const level = podSecurityLevel(s.profile);
  return {
    metadata: {
      name: s.namespace,
      labels: {
        ...labels(s),
        'pod-security.kubernetes.io/enforce': level,
        'pod-security.kubernetes.io/enforce-version': PSA_VERSION,
        'pod-security.kubernetes.io/warn': level,
      },
    },
  };
}

/** Made by termlab rather than awaited from the controller-manager (study §7: the first pod is then
 * admitted at once), and without a token to mount. */
export function serviceAccount(s: SessionSpec): V1ServiceAccount {
  return { metadata: { name: 'default', namespace: s.namespace, labels: labels(s) }, automountServiceAccountToken: false };
}

const mib = (n: number): string => `${Math.round(n)}Mi`;
const cpu = (n: number): string => `${Math.round(n * 1000)}m`;
/** An ephemeral-storage amount, when the nodes account it (else nothing: see SessionSpec.diskLimits). */
const disk = (s: SessionSpec, megabytes: number, key = 'ephemeral-storage'): Record<string, string> =>
  (s.diskLimits === true ? { [key]: mib(megabytes) } : {});

/**
 * Default and maximum per container: the profile's limits. A container that names no resources
 * gets them; one that asks for more is refused. Pids have no per-pod API setting (the kubelet's
 * podPidsLimit is node-wide): the cluster operator sets it.
 */
export function limitRange(s: SessionSpec): V1LimitRange {
  const max = { cpu: cpu(s.limits.cpus), memory: mib(s.limits.memoryMb), ...disk(s, s.limits.diskMb) };
  return {
    metadata: { name: 'session', namespace: s.namespace, labels: labels(s) },
    spec: { limits: [{ type: 'Container', max, _default: max, defaultRequest: { cpu: '50m', memory: '64Mi', ...disk(s, 1) } }] },
  };
}

/** The session may hold `hosts` pods of the profile's size, no more (study §7: size it as hosts x limits). */
export function resourceQuota(s: SessionSpec, hosts: number): V1ResourceQuota {
  return {
    metadata: { name: 'session', namespace: s.namespace, labels: labels(s) },
    spec: {
      hard: {
        pods: String(hosts),
        'limits.cpu': cpu(s.limits.cpus * hosts),
        'limits.memory': mib(s.limits.memoryMb * hosts),
        ...disk(s, s.limits.diskMb * hosts, 'limits.ephemeral-storage'),
        services: '1',
        'services.loadbalancers': '0',
        'services.nodeports': '0',
        persistentvolumeclaims: '0',
      },
    },
  };
}

/**
 * Default deny: pods talk only to pods of their own namespace, plus DNS (to any address on port 53:
 * the cluster's resolver may be a node address, as in the test cluster). A lab with internet also
 * gets every public address, never the private ranges (the cluster's nodes, other sessions' pods,
 * the apiserver). Enforced only when the cluster runs a policy controller: the plain bridge CNI ignores it.
 */
export function networkPolicy(s: SessionSpec): V1NetworkPolicy {
  const dnsPorts = [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }];
  const egress: NonNullable<V1NetworkPolicy['spec']>['egress'] = [{ to: [{ podSelector: {} }] }, { ports: dnsPorts }];
  if (s.internet) egress.push({ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: PRIVATE_RANGES } }] });
  return {
    metadata: { name: 'session-only', namespace: s.namespace, labels: labels(s) },
    spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [{ _from: [{ podSelector: {} }] }], egress },
  };
}

/** Headless, selecting the session's hosts: with each pod's `subdomain` it gives every host a DNS name. */
export function hostsService(s: SessionSpec): V1Service {
  return {
    metadata: { name: HOSTS_SERVICE, namespace: s.namespace, labels: labels(s) },
    spec: { clusterIP: 'None', selector: { [SESSION_LABEL]: dnsLabel(s.session) }, publishNotReadyAddresses: true },
  };
}

/** One lab host. Pod name = hostname = the lab's host name, so `ssh`-free labs find each other by it. */
export function hostPod(h: HostSpec): V1Pod {
  const docker = h.profile === 'docker';
  const resources = {
    limits: { cpu: cpu(h.limits.cpus), memory: mib(h.limits.memoryMb), ...disk(h, h.limits.diskMb) },
    // Small requests: the limits bound a session, requests only decide where it fits.
    requests: { cpu: '50m', memory: '64Mi', ...disk(h, 1) },
  };
  return {
    metadata: { name: dnsLabel(h.host), namespace: h.namespace, labels: { ...labels(h), [HOST_LABEL]: dnsLabel(h.host) } },
    spec: {
      hostname: dnsLabel(h.host),
      subdomain: HOSTS_SERVICE,
      // Short names resolve too, as Docker's network aliases do (`ping web`, not `ping web.hosts`).
      dnsConfig: { searches: [`${HOSTS_SERVICE}.${h.namespace}.svc.cluster.local`] },
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      // pause becomes PID 1 and reaps orphans, as --init does for the Docker backend.
      shareProcessNamespace: true,
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 0,
      activeDeadlineSeconds: h.deadlineSeconds,
      ...(h.runtimeClass ? { runtimeClassName: h.runtimeClass } : {}),
      containers: [{
        name: CONTAINER,
        image: h.image,
        // Images are tagged by a hash of their build context: a tag present on the node is the right one.
        imagePullPolicy: 'IfNotPresent',
        // A docker box keeps its image's entrypoint, as on the Docker backend: it starts the inner
        // engine and loads the exercise images, then becomes `sleep infinity` (the driver waits for that).
        ...(docker ? {} : { command: ['sleep', 'infinity'] }),
        resources,
        ...(docker ? {
          // Study §2b: what the docker box gets from termlab today, not `privileged` (runc cannot
          // mount a read-write sysfs in a nested node); only under a sandboxed RuntimeClass.
          securityContext: {
            privileged: false,
            capabilities: { add: ['ALL'], drop: ['SYS_RESOURCE'] },
            seccompProfile: { type: 'Unconfined' },
            appArmorProfile: { type: 'Unconfined' },
          },
          volumeMounts: [{ name: 'docker', mountPath: '/var/lib/docker' }],
        } : {}),
      }],
      ...(docker ? { volumes: [{ name: 'docker', emptyDir: { medium: 'Memory', sizeLimit: mib(h.limits.diskMb) } }] } : {}),
    },
  };
}
