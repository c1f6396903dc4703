// Server configuration from the environment, validated once at start: a bad value stops the
// server with a message naming the variable, instead of failing later.
import crypto from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';

const PROFILES = ['shell', 'docker', 'kubernetes'] as const;

const limitsSchema = z.object({
  memoryMb: z.number().int().min(64),
  pids: z.number().int().min(16),
  cpus: z.number().min(0.1),
  diskMb: z.number().int().min(64),
});
export type BoxLimits = z.infer<typeof limitsSchema>;

/** The Docker engine termlab uses or starts (server/sandbox/engine.ts). */
const engineSchema = z.object({
  /** Holds engine.btrfs (the engine's filesystem, in a file) and its mount point docker/. */
  dir: z.string().min(1),
  /** Size of engine.btrfs when it is first made; undefined: 60% of the free space, 16 to 200 GiB. */
  diskGb: z.number().int().min(4).optional(),
  /** Unsafe overrides, each loudly logged: an engine without user-namespace remapping (shell labs only),
   * no host firewall, an engine that cannot cap a box's disk (the sweeper then only polls). */
  allowUnremapped: z.boolean(),
  allowNoFirewall: z.boolean(),
  allowNoDiskQuota: z.boolean(),
  /** OCI runtime of shell and docker boxes: runc (default), or runsc (gVisor: a user-space kernel
   * between the box and the host's; server/sandbox/runsc.ts). The kubernetes profile needs runc. */
  runtime: z.enum(['runc', 'runsc'], { message: 'TERMLAB_RUNTIME must be runc or runsc' }),
});
export type EngineSettings = z.infer<typeof engineSchema>;

/** Caps on learners' terminal recordings (server/recordings/), so one learner cannot fill the disk. */
const recordingsSchema = z.object({
  /** A running recording stops, with a final marker, when its file would pass this. */
  maxBytes: z.number().int().min(4096),
  /** ...or when it has run this long. */
  maxDurationMs: z.number().int().min(1000),
  /** Recordings kept per learner (browser); starting one more is refused until old ones are deleted. */
  maxPerLearner: z.number().int().min(1),
  /** Bytes of recordings kept per learner, running ones counted at their cap. */
  maxBytesPerLearner: z.number().int().min(4096),
  /** Finished recordings older than this are deleted (sweep at start, then hourly); 0 deletes them at the next sweep. */
  retentionMs: z.number().min(0),
  /** Bytes a recording's file stream may buffer before the terminal stops being read until it drains. */
  bufferBytes: z.number().int().min(16 * 1024),
});
export type RecordingLimits = z.infer<typeof recordingsSchema>;

/** Instructor-led workshops (server/workshops/, docs/workshops.md). */
const workshopsSchema = z.object({
  /** When set, creating a workshop needs "Authorization: Bearer <it>". */
  adminToken: z.string().min(16, 'at least 16 characters').optional(),
  /** Boxes are pre-started this long before a workshop opens. */
  warmLeadMs: z.number().int().min(0),
  /** Boxes started beyond the seats, for resets and late surprises. */
  reserve: z.number().int().min(0).max(50),
  /** Boxes one workshop starts at once while warming up (the engine is shared with running labs). */
  warmParallel: z.number().int().min(1).max(16),
  /** A seat is stuck after this many failed checks in a row on one step... */
  stuckFailStreak: z.number().int().min(1),
  /** ...or after this many times the class median on its step (when others passed it)... */
  stuckFactor: z.number().min(1),
  /** ...and never before this long on the step (nor, with no median yet, before this long times the factor). */
  stuckMinMs: z.number().int().min(0),
  /** Unknown join codes one client address may try per minute (a classroom behind one NAT only spends them on typos). */
  codeAttemptsPerMinute: z.number().int().min(1),
  /** Learners' pages are warned this long before the end. */
  endWarningMs: z.number().int().min(0),
  /** Dashboard events kept per workshop for reconnecting dashboards; older ones are pruned. */
  eventsKept: z.number().int().min(10),
  /** Workshops not ended yet that this server holds at once: each is a room in memory and rows in the database. */
  maxOpen: z.number().int().min(1),
  /** An ended workshop, its seats and its events are deleted this long after its end. */
  retentionMs: z.number().int().min(0),
});
export type WorkshopSettings = z.infer<typeof workshopsSchema>;

/** Self-paced learners' history (server/history/, protocol/history.ts): what is kept, for how long, and how labs may be extended. */
const historySchema = z.object({
  /** Attempts kept per learner and lab; beginning one more deletes the oldest. */
  attemptsPerLab: z.number().int().min(1).max(100),
  /** Attempts not touched for this long are deleted (sweep at start, then hourly), with their completions. */
  retentionMs: z.number().int().min(0),
  /** Attempts kept in all, whoever's: past it, the least recently touched go (a learner with many browsers). */
  maxAttempts: z.number().int().min(100),
  /** Display-name and erase requests one client address may make per minute. */
  writesPerMinute: z.number().int().min(1),
  /** A running lab may be extended this many times (0: never) ... */
  extensions: z.number().int().min(0).max(10),
  /** ... by this much each. */
  extendMs: z.number().int().min(10_000),
  /**
   * Signs proofs of completion (HMAC-SHA256). Unset: a random key kept in the state folder
   * (completion.key), made on first start. Several servers that must verify each other's proofs share one.
   */
  completionSecret: z.string().min(32, 'at least 32 characters').optional(),
});
export type HistorySettings = z.infer<typeof historySchema>;

/** The Kubernetes backend (TERMLAB_BACKEND=kubernetes, server/sandbox/kubernetes/): a session is a namespace, a box a pod. */
const kubernetesSchema = z.object({
  /** A kubeconfig file (its current context); unset: the in-cluster ServiceAccount. */
  kubeconfig: z.string().min(1).optional(),
  /** Session namespaces are <prefix><instance>-<session>; RBAC or admission can pin the prefix. */
  namespacePrefix: z.string().regex(/^[a-z][a-z0-9-]{0,15}$/, 'lowercase letters, digits and dashes, at most 16'),
  /** Image of each profile's pods (a registry ref); unset: termlab/<profile>:<context hash>, as the Docker backend builds it. */
  images: z.object({ shell: z.string().min(1).optional(), docker: z.string().min(1).optional() }),
  /** RuntimeClass of every pod (gVisor, Kata); the docker profile is refused without one. */
  runtimeClass: z.string().regex(/^[a-z0-9][a-z0-9.-]{0,62}$/, 'a RuntimeClass name').optional(),
});
export type KubernetesSettings = z.infer<typeof kubernetesSchema>;

const schema = z.object({
  port: z.number().int().min(0).max(65535),
  host: z.string().min(1),
  /** Names this server's containers, networks and volumes; the next start removes what a previous run left. */
  instance: z.string().regex(/^[a-z0-9][a-z0-9-]{0,30}$/, 'lowercase letters, digits and dashes'),
  rootDir: z.string(),
  labsDir: z.string(),
  stateDir: z.string(),
  /** PostgreSQL shared by several servers (server/store/); unset: SQLite files in stateDir. */
  databaseUrl: z.string().optional(),
  /**
   * This server among the instance's replicas: every box it makes carries it, and sweeps of
   * leftovers spare the boxes of replicas whose lease holds (server/store/replica-leases.ts).
   */
  replica: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, at most 63'),
  /** A replica renews its lease this often (ms); one unrenewed for three times this is gone. */
  replicaBeatMs: z.number().int().min(100),
  /**
   * Where the other replicas reach this one (http://HOST:PORT): they relay an instructor's view of
   * a terminal this replica serves. Unset: this server's listening address (the host name when it
   * listens on every interface).
   */
  replicaAddress: z.string().url('TERMLAB_REPLICA_ADDRESS must be a URL such as http://10.0.0.7:8080').optional(),
  webDir: z.string(),
  dockerSocket: z.string(),
  /** Session networks are /24s from this IPv4 CIDR. */
  /** Try a registry pull of the base image before bootstrapping it offline. */
  pull: z.boolean(),
  subnetPool: z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, 'an IPv4 CIDR such as 10.213.0.0/16'),
  idleTimeoutMs: z.number().int().min(1000),
  maxLifetimeMs: z.number().int().min(1000),
  sweepIntervalMs: z.number().int().min(200),
  maxSessions: z.number().int().min(1),
  /** MiB of box memory limits that live sessions and pre-started boxes may reserve in all: a
   * session costs its boxes' limits (a three-host docker lab three docker boxes), not 1. */
  memoryBudgetMb: z.number().int().min(64),
  /** KiB of input a terminal queues for a shell that is not reading; more is dropped, and the learner told. */
  inputBufferKb: z.number().int().min(16),
  /** A terminal applies at most one client resize per this many ms (each reflows the screen mirror and reaches the engine). */
  resizeIntervalMs: z.number().int().min(0),
  /** Extra page origins allowed to open the WebSocket (the server's own origin always is). */
  allowedOrigins: z.array(z.string()),
  /** Extra Host names served (DNS-rebinding guard, server/http/host-check.ts); "*" turns the check off. */
  allowedHosts: z.array(z.string().regex(/^(\*|[a-z0-9.-]+|\[[0-9a-f:.]+\])$/i, 'host names or "*", comma-separated, without ports')),
  /** Reverse proxies in front of the server: X-Forwarded-For is believed for this many hops (0: not at all). */
  trustProxy: z.number().int().min(0).max(10),
  /** Per-client limits on starting labs (server/http/client-limits.ts). */
  sessionsPerLearner: z.number().int().min(1),
  sessionsPerIp: z.number().int().min(1),
  sessionStartsPerMinute: z.number().min(0.1),
  sessionStartBurst: z.number().int().min(1),
  /** A WebSocket that has not said hello this long after opening is closed. */
  helloTimeoutMs: z.number().int().min(100),
  /** Open WebSockets per client IP. */
  socketsPerIp: z.number().int().min(1),
  /** When set, /metrics needs "Authorization: Bearer <it>"; unset, it is served only to local, unproxied requests. */
  metricsToken: z.string().min(16, 'at least 16 characters').optional(),
  /** UNSAFE, for test/security only: turns the named defences off so the probes can show they detect it. */
  unsafeWeaken: z.array(z.enum(['page-headers', 'port-proxy-headers', 'metrics'])),
  pool: z.record(z.enum(PROFILES), z.number().int().min(0).max(20)),
  limits: z.record(z.enum(PROFILES), limitsSchema),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  engine: engineSchema,
  recordings: recordingsSchema,
  /** The asciicast version recordings and walkthroughs are written in: v2 (what asciinema 2, Debian's, reads) or v3 (asciinema 3). */
  recordingFormat: z.enum(['v2', 'v3'], { message: 'TERMLAB_RECORDING_FORMAT must be v2 or v3' }),
  workshops: workshopsSchema,
  history: historySchema,
  /** Where boxes run: the Docker engine (default) or a Kubernetes cluster (kubernetes: its settings). */
  backend: z.enum(['docker', 'kubernetes'], { message: 'TERMLAB_BACKEND must be docker or kubernetes' }),
  kubernetes: kubernetesSchema,
  /**
   * Live reload for a lab author: set only by `npm run labs -- dev <lab>` (never from the environment).
   * The server then serves this one lab, watches its folder and swaps each change into the running
   * sessions (server/labs/lab-dev.ts). Unset, nothing is watched and no `lab-changed` is ever sent.
   */
  devLab: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'a lab folder name').optional(),
});
export type Config = z.infer<typeof schema>;

function num(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new Error(`${name}=${raw} is not a number`);
  return value;
}

/** TERMLAB_DATABASE_URL: a postgres:// URL, checked here so a typo stops the start with what to fix (never echoing the password). */
function databaseUrl(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  const how = 'write it as postgres://USER:PASSWORD@HOST:5432/DATABASE (or unset it to keep SQLite in TERMLAB_STATE_DIR)';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`TERMLAB_DATABASE_URL is not a URL: ${how}`);
  }
  const masked = new URL(raw);
  if (masked.password) masked.password = '***';
  const shown = masked.toString();
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new Error(`TERMLAB_DATABASE_URL=${shown} does not start with postgres:// (only PostgreSQL is supported): ${how}`);
  }
  if (!url.hostname && !url.searchParams.get('host')) throw new Error(`TERMLAB_DATABASE_URL=${shown} names no host: ${how}`);
  if (url.pathname.length <= 1) throw new Error(`TERMLAB_DATABASE_URL=${shown} names no database: ${how}`);
  return raw;
}

/** "shell=1,docker=0,kubernetes=0"; a profile left out keeps its default (kubernetes: see kubernetesPoolDefault). */
function poolSpec(raw: string | undefined): Record<string, number> {
  const out: Record<string, number> = { shell: 1, docker: 1 };
  if (!raw) return out;
  for (const part of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [name, count] = part.split('=');
    if (!name || count === undefined || !/^\d+$/.test(count)) throw new Error(`TERMLAB_POOL: "${part}" is not profile=count`);
    out[name] = Number(count);
  }
  return out;
}

/**
 * The default kubernetes pool: one pre-started box (it idles at ~500 MiB, and reserves its memory
 * limit, 1536 MiB by default) when the pooled boxes' limits take at most half of the memory
 * budget, so a Helm learner does not wait the ~4 s of a cold cluster; else none. With the default
 * limits and budget (75% of RAM) that is 8 GiB of budget, about 11 GiB of RAM.
 */
export function kubernetesPoolDefault(pool: Record<string, number>, limits: Record<string, { memoryMb: number }>, memoryBudgetMb: number): number {
  const pooledMb = (pool.shell ?? 0) * (limits.shell?.memoryMb ?? 0) + (pool.docker ?? 0) * (limits.docker?.memoryMb ?? 0) +
    (limits.kubernetes?.memoryMb ?? 0);
  return pooledMb <= memoryBudgetMb / 2 ? 1 : 0;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const rootDir = overrides.rootDir ?? path.resolve(import.meta.dirname, '..');
  const raw = {
    port: num(env, 'PORT', 8080),
    host: env.HOST ?? '127.0.0.1',
    // A dev server (labs dev) beside `npm start` must not remove the other's boxes as leftovers.
    instance: env.TERMLAB_INSTANCE ?? (overrides.devLab ? 'termlab-dev' : 'termlab'),
    rootDir,
    labsDir: env.TERMLAB_LABS_DIR ?? path.join(rootDir, 'labs'),
    stateDir: env.TERMLAB_STATE_DIR ?? path.join(rootDir, 'var'),
    databaseUrl: databaseUrl(env.TERMLAB_DATABASE_URL),
    // Fresh at each start: a restarted server's old boxes belong to a replica that is gone.
    replica: env.TERMLAB_REPLICA ?? `${os.hostname().toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+/, '').slice(0, 40) || 'server'}-${crypto.randomBytes(4).toString('hex')}`,
    replicaBeatMs: num(env, 'TERMLAB_REPLICA_BEAT_MS', 10_000),
    replicaAddress: env.TERMLAB_REPLICA_ADDRESS || undefined,
    webDir: path.join(rootDir, 'dist', 'web'),
    dockerSocket: env.TERMLAB_DOCKER_SOCKET ?? '/var/run/docker.sock',
    pull: env.TERMLAB_PULL === '1',
    subnetPool: env.TERMLAB_SUBNET_POOL ?? '10.213.0.0/16',
    idleTimeoutMs: num(env, 'TERMLAB_IDLE_TIMEOUT_S', 15 * 60) * 1000,
    maxLifetimeMs: num(env, 'TERMLAB_MAX_LIFETIME_S', 2 * 60 * 60) * 1000,
    sweepIntervalMs: num(env, 'TERMLAB_SWEEP_INTERVAL_S', 10) * 1000,
    maxSessions: num(env, 'TERMLAB_MAX_SESSIONS', 20),
    inputBufferKb: num(env, 'TERMLAB_INPUT_BUFFER_KB', 256),
    resizeIntervalMs: num(env, 'TERMLAB_RESIZE_INTERVAL_MS', 50),
    memoryBudgetMb: num(env, 'TERMLAB_MEMORY_BUDGET_MB', Math.floor((os.totalmem() * 0.75) / 2 ** 20)),
    allowedOrigins: (env.TERMLAB_ALLOWED_ORIGINS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    allowedHosts: (env.TERMLAB_ALLOWED_HOSTS ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean),
    trustProxy: num(env, 'TERMLAB_TRUST_PROXY', 0),
    sessionsPerLearner: num(env, 'TERMLAB_SESSIONS_PER_LEARNER', 3),
    sessionsPerIp: num(env, 'TERMLAB_SESSIONS_PER_IP', 20),
    sessionStartsPerMinute: num(env, 'TERMLAB_SESSION_STARTS_PER_MINUTE', 10),
    sessionStartBurst: num(env, 'TERMLAB_SESSION_START_BURST', 5),
    helloTimeoutMs: num(env, 'TERMLAB_HELLO_TIMEOUT_S', 10) * 1000,
    socketsPerIp: num(env, 'TERMLAB_SOCKETS_PER_IP', 64),
    metricsToken: env.TERMLAB_METRICS_TOKEN || undefined,
    unsafeWeaken: (env.TERMLAB_UNSAFE_WEAKEN ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    pool: poolSpec(env.TERMLAB_POOL),
    limits: {
      shell: { memoryMb: num(env, 'TERMLAB_SHELL_MEMORY_MB', 512), pids: num(env, 'TERMLAB_SHELL_PIDS', 256), cpus: num(env, 'TERMLAB_SHELL_CPUS', 1), diskMb: num(env, 'TERMLAB_SHELL_DISK_MB', 1024) },
      docker: { memoryMb: num(env, 'TERMLAB_DOCKER_MEMORY_MB', 2048), pids: num(env, 'TERMLAB_DOCKER_PIDS', 1024), cpus: num(env, 'TERMLAB_DOCKER_CPUS', 1.5), diskMb: num(env, 'TERMLAB_DOCKER_DISK_MB', 1536) },
      // A single-node cluster idles at ~500 MiB and ~105 pids (kubernetes-box.test.ts prints it).
      kubernetes: { memoryMb: num(env, 'TERMLAB_KUBERNETES_MEMORY_MB', 1536), pids: num(env, 'TERMLAB_KUBERNETES_PIDS', 1024), cpus: num(env, 'TERMLAB_KUBERNETES_CPUS', 1.5), diskMb: num(env, 'TERMLAB_KUBERNETES_DISK_MB', 2048) },
    },
    logLevel: env.TERMLAB_LOG_LEVEL ?? 'info',
    engine: {
      dir: env.TERMLAB_ENGINE_DIR ?? '/var/lib/termlab',
      diskGb: env.TERMLAB_ENGINE_DISK_GB ? num(env, 'TERMLAB_ENGINE_DISK_GB', 0) : undefined,
      allowUnremapped: env.TERMLAB_ALLOW_UNREMAPPED === '1',
      allowNoFirewall: env.TERMLAB_ALLOW_NO_FIREWALL === '1',
      allowNoDiskQuota: env.TERMLAB_ALLOW_NO_DISK_QUOTA === '1',
      runtime: env.TERMLAB_RUNTIME || 'runc',
    },
    recordings: {
      maxBytes: Math.round(num(env, 'TERMLAB_RECORDING_MAX_MB', 64) * 2 ** 20),
      maxDurationMs: num(env, 'TERMLAB_RECORDING_MAX_S', 2 * 60 * 60) * 1000,
      maxPerLearner: num(env, 'TERMLAB_RECORDINGS_PER_LEARNER', 50),
      maxBytesPerLearner: Math.round(num(env, 'TERMLAB_RECORDINGS_LEARNER_MB', 512) * 2 ** 20),
      retentionMs: num(env, 'TERMLAB_RECORDING_RETENTION_DAYS', 30) * 24 * 60 * 60 * 1000,
      bufferBytes: Math.round(num(env, 'TERMLAB_RECORDING_BUFFER_KB', 256) * 1024),
    },
    recordingFormat: env.TERMLAB_RECORDING_FORMAT || 'v2',
    workshops: {
      adminToken: env.TERMLAB_ADMIN_TOKEN || undefined,
      warmLeadMs: num(env, 'TERMLAB_WORKSHOP_WARM_LEAD_S', 10 * 60) * 1000,
      reserve: num(env, 'TERMLAB_WORKSHOP_RESERVE', 2),
      warmParallel: num(env, 'TERMLAB_WORKSHOP_WARM_PARALLEL', 2),
      stuckFailStreak: num(env, 'TERMLAB_WORKSHOP_STUCK_FAILS', 3),
      stuckFactor: num(env, 'TERMLAB_WORKSHOP_STUCK_FACTOR', 2),
      stuckMinMs: num(env, 'TERMLAB_WORKSHOP_STUCK_MIN_S', 5 * 60) * 1000,
      codeAttemptsPerMinute: num(env, 'TERMLAB_WORKSHOP_CODE_ATTEMPTS', 20),
      endWarningMs: num(env, 'TERMLAB_WORKSHOP_END_WARNING_S', 60) * 1000,
      eventsKept: num(env, 'TERMLAB_WORKSHOP_EVENTS_KEPT', 5000),
      maxOpen: num(env, 'TERMLAB_WORKSHOPS_OPEN_MAX', 50),
      retentionMs: num(env, 'TERMLAB_WORKSHOP_RETENTION_DAYS', 30) * 24 * 60 * 60 * 1000,
    },
    history: {
      attemptsPerLab: num(env, 'TERMLAB_HISTORY_ATTEMPTS_PER_LAB', 3),
      retentionMs: num(env, 'TERMLAB_HISTORY_RETENTION_DAYS', 180) * 24 * 60 * 60 * 1000,
      maxAttempts: num(env, 'TERMLAB_HISTORY_MAX_ATTEMPTS', 200_000),
      writesPerMinute: num(env, 'TERMLAB_HISTORY_WRITES_PER_MINUTE', 20),
      extensions: num(env, 'TERMLAB_EXTENSIONS', 2),
      extendMs: num(env, 'TERMLAB_EXTEND_MIN', 30) * 60 * 1000,
      completionSecret: env.TERMLAB_COMPLETION_SECRET || undefined,
    },
    backend: env.TERMLAB_BACKEND || 'docker',
    kubernetes: {
      kubeconfig: env.TERMLAB_KUBECONFIG || undefined,
      namespacePrefix: env.TERMLAB_KUBE_NAMESPACE_PREFIX || 'tl-',
      images: { shell: env.TERMLAB_KUBE_IMAGE_SHELL || undefined, docker: env.TERMLAB_KUBE_IMAGE_DOCKER || undefined },
      runtimeClass: env.TERMLAB_KUBE_RUNTIME_CLASS || undefined,
    },
    ...overrides,
  };
  if (raw.pool.kubernetes === undefined) {
    raw.pool = { ...raw.pool, kubernetes: kubernetesPoolDefault(raw.pool, raw.limits, raw.memoryBudgetMb) };
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid configuration: ${issue?.path.join('.')}: ${issue?.message}`);
  }
  return parsed.data;
}
