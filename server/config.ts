// Server configuration from the environment, validated once at start: a bad value stops the
// server with a message naming the variable, instead of failing later.
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

const schema = z.object({
  port: z.number().int().min(0).max(65535),
  host: z.string().min(1),
  /** Names this server's containers, networks and volumes; the next start removes what a previous run left. */
  instance: z.string().regex(/^[a-z0-9][a-z0-9-]{0,30}$/, 'lowercase letters, digits and dashes'),
  rootDir: z.string(),
  labsDir: z.string(),
  stateDir: z.string(),
  webDir: z.string(),
  dockerSocket: z.string(),
  idleTimeoutMs: z.number().int().min(1000),
  maxLifetimeMs: z.number().int().min(1000),
  sweepIntervalMs: z.number().int().min(200),
  maxSessions: z.number().int().min(1),
  /** Extra page origins allowed to open the WebSocket (the server's own origin always is). */
  allowedOrigins: z.array(z.string()),
  pool: z.record(z.enum(PROFILES), z.number().int().min(0).max(20)),
  limits: z.record(z.enum(PROFILES), limitsSchema),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
});
export type Config = z.infer<typeof schema>;

function num(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new Error(`${name}=${raw} is not a number`);
  return value;
}

/** "shell=1,docker=0,kubernetes=0" */
function poolSpec(raw: string | undefined): Record<string, number> {
  const out: Record<string, number> = { shell: 1, docker: 1, kubernetes: 0 };
  if (!raw) return out;
  for (const part of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [name, count] = part.split('=');
    if (!name || count === undefined || !/^\d+$/.test(count)) throw new Error(`TERMLAB_POOL: "${part}" is not profile=count`);
    out[name] = Number(count);
  }
  return out;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const rootDir = overrides.rootDir ?? path.resolve(import.meta.dirname, '..');
  const raw = {
    port: num(env, 'PORT', 8080),
    host: env.HOST ?? '127.0.0.1',
    instance: env.TERMLAB_INSTANCE ?? 'termlab',
    rootDir,
    labsDir: env.TERMLAB_LABS_DIR ?? path.join(rootDir, 'labs'),
    stateDir: env.TERMLAB_STATE_DIR ?? path.join(rootDir, 'var'),
    webDir: path.join(rootDir, 'dist', 'web'),
    dockerSocket: env.TERMLAB_DOCKER_SOCKET ?? '/var/run/docker.sock',
    idleTimeoutMs: num(env, 'TERMLAB_IDLE_TIMEOUT_S', 15 * 60) * 1000,
    maxLifetimeMs: num(env, 'TERMLAB_MAX_LIFETIME_S', 2 * 60 * 60) * 1000,
    sweepIntervalMs: num(env, 'TERMLAB_SWEEP_INTERVAL_S', 10) * 1000,
    maxSessions: num(env, 'TERMLAB_MAX_SESSIONS', 20),
    allowedOrigins: (env.TERMLAB_ALLOWED_ORIGINS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    pool: poolSpec(env.TERMLAB_POOL),
    limits: {
      shell: { memoryMb: num(env, 'TERMLAB_SHELL_MEMORY_MB', 512), pids: num(env, 'TERMLAB_SHELL_PIDS', 256), cpus: num(env, 'TERMLAB_SHELL_CPUS', 1), diskMb: num(env, 'TERMLAB_SHELL_DISK_MB', 1024) },
      docker: { memoryMb: num(env, 'TERMLAB_DOCKER_MEMORY_MB', 2048), pids: num(env, 'TERMLAB_DOCKER_PIDS', 1024), cpus: num(env, 'TERMLAB_DOCKER_CPUS', 1.5), diskMb: num(env, 'TERMLAB_DOCKER_DISK_MB', 1536) },
      // A single-node cluster idles at ~500 MiB and ~105 pids (kubernetes-box.test.ts prints it).
      kubernetes: { memoryMb: num(env, 'TERMLAB_KUBERNETES_MEMORY_MB', 1536), pids: num(env, 'TERMLAB_KUBERNETES_PIDS', 1024), cpus: num(env, 'TERMLAB_KUBERNETES_CPUS', 1.5), diskMb: num(env, 'TERMLAB_KUBERNETES_DISK_MB', 2048) },
    },
    logLevel: env.TERMLAB_LOG_LEVEL ?? 'info',
    ...overrides,
  };
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid configuration: ${issue?.path.join('.')}: ${issue?.message}`);
  }
  return parsed.data;
}
