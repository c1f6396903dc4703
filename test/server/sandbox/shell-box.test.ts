import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pty from 'node-pty';
import type Docker from 'dockerode';
import { resolveSocketPath } from '../../../server/sandbox/engine.js';
import { boxWritableBytes, createBox, execArgv, execInBox, removeLeftovers, type Box } from '../../../server/sandbox/boxes.js';
import { engineAndImages, log, sh, shStatus, SHELL_LIMITS, uniqueInstance } from './helpers.js';

describe('shell profile box', () => {
  const instance = uniqueInstance('shell');
  let docker: Docker;
  let box: Box;

  before(async () => {
    const ready = await engineAndImages();
    docker = ready.docker;
    const t = Date.now();
    box = await createBox(docker, {
      instance, session: 's1', profile: 'shell', image: ready.images.shell, hostname: 'lab',
      limits: SHELL_LIMITS, internet: false,
    });
    log(`shell box ready in ${Date.now() - t} ms`);
  });
  after(async () => { if (docker) await removeLeftovers(docker, instance, () => {}); });

  test('runs a command as root with the given hostname', async () => {
    assert.equal(await sh(docker, box.id, 'echo "$(id -u) $(hostname)"'), '0 lab');
    const r = await execInBox(docker, box.id, ['sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.deepEqual([r.exitCode, r.stdout, r.stderr, r.timedOut], [3, 'out\n', 'err\n', false]);
  });

  test('limits are visible in the box\'s cgroup files', async () => {
    const bytes = String(SHELL_LIMITS.memoryMb * 1024 * 1024);
    assert.equal(await sh(docker, box.id, 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes'), bytes);
    const memsw = await shStatus(docker, box.id, 'cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes');
    if (memsw.code === 0) assert.equal(memsw.err, bytes); // only where the kernel accounts swap
    assert.equal(await sh(docker, box.id, 'cat /sys/fs/cgroup/pids/pids.max'), String(SHELL_LIMITS.pids));
    const [quota, period] = (await sh(docker, box.id,
      'cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us')).split('\n').map(Number);
    assert.equal(quota! / period!, SHELL_LIMITS.cpus);
  });

  test('root in the box is not root on the host, and cannot lift its limits', async () => {
    const map = (await sh(docker, box.id, 'cat /proc/self/uid_map')).trim().split(/\s+/).map(Number);
    assert.equal(map[0], 0);
    assert.notEqual(map[1], 0, 'uid 0 in the box maps to a non-zero host uid');
    assert.ok(map[2]! < 4294967295, 'not the identity map of the whole uid range');
    assert.notEqual((await shStatus(docker, box.id, 'echo 1073741824 > /sys/fs/cgroup/memory/memory.limit_in_bytes')).code, 0);
    assert.notEqual((await shStatus(docker, box.id, 'echo max > /sys/fs/cgroup/pids/pids.max')).code, 0);
    assert.notEqual((await shStatus(docker, box.id, 'echo 3 > /proc/sys/vm/drop_caches')).code, 0);
  });

  test('disk: /tmp is a bounded tmpfs, other writes show in boxWritableBytes', async () => {
    const tmpMb = Math.floor(SHELL_LIMITS.diskMb / 4);
    const fill = await shStatus(docker, box.id, `dd if=/dev/zero of=/tmp/fill bs=1M count=${tmpMb + 4} 2>&1`);
    assert.notEqual(fill.code, 0);
    assert.match(fill.err, /No space left/);
    await sh(docker, box.id, 'rm -f /tmp/fill');
    const before = await boxWritableBytes(docker, box.id);
    await sh(docker, box.id, 'dd if=/dev/urandom of=/root/blob bs=1M count=3 2>/dev/null');
    const grown = (await boxWritableBytes(docker, box.id)) - before;
    assert.ok(grown >= 3 * 1024 * 1024, `writable layer grew by ${grown} bytes`);
  });

  test('exec timeouts kill the command and its children', async () => {
    const t = Date.now();
    const r = await execInBox(docker, box.id, ['bash', '-c', 'sleep 30 & sleep 31; echo never'], { timeoutMs: 500 });
    assert.equal(r.timedOut, true);
    assert.equal(r.exitCode, 124);
    assert.ok(Date.now() - t < 5000);
    assert.equal(await sh(docker, box.id, 'pgrep -x sleep | grep -v "^1$" | wc -l'), '1'); // only PID 1's
  });

  test('an interactive login shell through execArgv: colour prompt, UTF-8', async () => {
    const argv = execArgv(resolveSocketPath(), box.id, ['bash', '-l']);
    const term = pty.spawn(argv[0]!, argv.slice(1), { name: 'xterm-256color', cols: 100, rows: 30 });
    let out = '';
    term.onData((d) => { out += d; });
    const exited = new Promise<number>((resolve) => term.onExit(({ exitCode }) => resolve(exitCode)));
    await waitFor(() => out.includes('\x1b[1;32mroot@lab'), 10_000, () => out);
    term.write('echo "T=$TERM C=$(locale charmap)"; printf "caf\\xc3\\xa9 \\u2713\\n"; ls --color=auto -d /tmp; exit\r');
    assert.equal(await exited, 0);
    assert.match(out, /T=xterm-256color C=UTF-8/);
    assert.match(out, /café ✓/);
    assert.match(out, /\x1b\[[0-9;]*m\/tmp/, 'ls colours');
  });
});

async function waitFor(cond: () => boolean, ms: number, show: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out; output so far: ${JSON.stringify(show())}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
