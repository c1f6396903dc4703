// docker-compose.yml for real: builds the server image, brings the stack up under a project name
// of its own, starts a lab through it (HTTP, then a shell over the WebSocket), takes it down with
// `down -v`, and checks that nothing of the project or of its termlab instance is left behind.
// Needs what `npm test` prepares first: termlab's engine on /var/run/docker.sock (remapped, btrfs)
// with the sandbox images (scripts/prepare.ts). Installs docker-compose through
// scripts/system-deps.sh when it is missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { LABEL } from '../../server/sandbox/engine.js';
import { ProtocolClient } from '../helpers/protocol-client.js';
import { localCaCerts } from '../helpers/server-image.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const suffix = crypto.randomBytes(4).toString('hex');
const PROJECT = `tl-compose-${suffix}`;
const INSTANCE = `c-${suffix}`;

interface Run { code: number | null; out: string }

/** Runs a command in the repository root; resolves with its exit code and combined output. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, out }));
  });
}

async function mustRun(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const r = await run(cmd, args, env);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.code}):\n${r.out.slice(-4000)}`);
  return r.out;
}

/** docker-compose (Debian's 1.29), installed through scripts/system-deps.sh when missing. */
function composeCommand(): string {
  const has = () => spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0;
  if (!has()) {
    const r = spawnSync('bash', [path.join(ROOT, 'scripts/system-deps.sh'), 'test'], { stdio: 'inherit' });
    assert.equal(r.status, 0, 'scripts/system-deps.sh test could not install docker-compose');
    assert.ok(has(), 'docker-compose is still missing after scripts/system-deps.sh test');
  }
  return 'docker-compose';
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function until<T>(what: string, probe: () => Promise<T>, ms: number, every = 200): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** IDs (or names) the docker CLI lists for one kind of object and one label filter. */
async function listed(kind: 'ps -a' | 'network ls' | 'volume ls', label: string): Promise<string[]> {
  const args = [...kind.split(' '), '-q', '--filter', `label=${label}`];
  return (await mustRun('docker', args)).split('\n').map((s) => s.trim()).filter(Boolean);
}

test('docker-compose up serves labs from the server image; down -v leaves nothing behind', { timeout: 20 * 60_000 }, async (t) => {
  const compose = composeCommand();
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TERMLAB_PORT: String(port),
    TERMLAB_INSTANCE: INSTANCE,
    // A pre-started docker box: making it hands a box its cgroups from inside the container.
    TERMLAB_POOL: 'shell=0,docker=1,kubernetes=0',
    TERMLAB_BUILD_CA_CERTS: process.env.TERMLAB_BUILD_CA_CERTS ?? localCaCerts(),
  };
  const dc = (...args: string[]) => mustRun(compose, ['-p', PROJECT, ...args], env);
  const url = `http://127.0.0.1:${port}`;
  let containerId = '';
  let client: ProtocolClient | undefined;
  let down = false;

  const logs = async () => (await run(compose, ['-p', PROJECT, 'logs', '--no-color', '--tail', '60'], env)).out;
  try {
    const started = Date.now();
    await dc('build', '--force-rm');
    t.diagnostic(`server image built in ${((Date.now() - started) / 1000).toFixed(0)} s (layer cache applies)`);
    await dc('up', '-d');
    containerId = (await dc('ps', '-q', 'termlab')).trim();
    assert.match(containerId, /^[0-9a-f]{12,}$/, 'compose made the termlab container');

    // Runs the way docker-compose.yml says: host namespaces, few capabilities, read-only root.
    const info = JSON.parse(await mustRun('docker', ['inspect', containerId]))[0] as {
      HostConfig: { NetworkMode: string; PidMode: string; UsernsMode: string; ReadonlyRootfs: boolean;
        CapAdd: string[] | null; CapDrop: string[] | null; SecurityOpt: string[] | null; Privileged: boolean };
    };
    const hc = info.HostConfig;
    assert.deepEqual([hc.NetworkMode, hc.PidMode, hc.UsernsMode], ['host', 'host', 'host']);
    assert.equal(hc.ReadonlyRootfs, true);
    assert.equal(hc.Privileged, false);
    assert.deepEqual(hc.CapDrop, ['ALL']);
    assert.deepEqual([...(hc.CapAdd ?? [])].sort(), ['CHOWN', 'NET_ADMIN']);
    assert.ok((hc.SecurityOpt ?? []).some((o) => o.startsWith('no-new-privileges')), 'no-new-privileges');

    // Up: /api/health answers (or the container stopped or restarted: fail at once, with its logs).
    await until('/api/health', async () => {
      const [status, restarts] = (await mustRun('docker', ['inspect', '-f', '{{.State.Status}} {{.RestartCount}}', containerId]))
        .trim().split(' ');
      if (status !== 'running' || restarts !== '0') {
        throw new Error(`the server container is ${status} (restarts: ${restarts}):\n${await logs()}`);
      }
      const res = await fetch(`${url}/api/health`).catch(() => undefined);
      return res?.ok ? true : undefined;
    }, 180_000);
    await until('a pre-started docker box (cgroup hand-over from the container)', async () => {
      const health = (await (await fetch(`${url}/api/health`)).json()) as { pooled: Record<string, number> };
      return (health.pooled.docker ?? 0) >= 1;
    }, 120_000).catch(async (err: Error) => { throw new Error(`${err.message}\n${await logs()}`); });

    // A lab through it: a session, then a shell over the WebSocket (docker exec from the container).
    const res = await fetch(`${url}/api/sessions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"lab":"hello"}',
    });
    assert.equal(res.status, 201, await res.clone().text());
    const session = (await res.json()) as { id: string; token: string };
    client = await ProtocolClient.open(url, session.token);
    await client.waitForText('# ', 30_000);
    client.type('echo compose-$((6*7))\r');
    await client.waitForText('compose-42', 15_000);
    const boxes = await listed('ps -a', `${LABEL.instance}=${INSTANCE}`);
    assert.ok(boxes.length >= 2, `the session's box and the pooled docker box run (${boxes.length})`);

    // The image's own healthcheck passes.
    await until('the container to be healthy', async () =>
      (await mustRun('docker', ['inspect', '-f', '{{.State.Health.Status}}', containerId])).trim() === 'healthy', 60_000, 500);

    client.close();
    await dc('down', '-v');
    down = true;

    const project = `com.docker.compose.project=${PROJECT}`;
    assert.deepEqual(await listed('ps -a', project), [], 'no containers of the compose project');
    assert.deepEqual(await listed('network ls', project), [], 'no networks of the compose project');
    assert.deepEqual(await listed('volume ls', project), [], 'no volumes of the compose project');
    assert.deepEqual(await listed('ps -a', `${LABEL.instance}=${INSTANCE}`), [], 'no boxes of its termlab instance');
    assert.deepEqual(await listed('network ls', `${LABEL.instance}=${INSTANCE}`), [], 'no session networks');
    assert.deepEqual(await listed('volume ls', `${LABEL.instance}=${INSTANCE}`), [], 'no box volumes');
  } finally {
    client?.close();
    if (!down) {
      await run(compose, ['-p', PROJECT, 'down', '-v', '--remove-orphans', '--timeout', '60'], env);
      // Whatever a failed run left of its instance (the server removes them when it stops cleanly).
      const left = await listed('ps -a', `${LABEL.instance}=${INSTANCE}`).catch(() => []);
      if (left.length) await run('docker', ['rm', '-f', '-v', ...left]);
      const nets = await listed('network ls', `${LABEL.instance}=${INSTANCE}`).catch(() => []);
      if (nets.length) await run('docker', ['network', 'rm', ...nets]);
    }
  }
});
