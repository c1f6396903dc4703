// The learner is told when their box nears its disk cap, from the kernel's own count (box-disk.ts):
// a deleted-but-open file, which the engine's size walk does not see, counts too.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../../server/config.js';
import { createSession, startTestServer } from '../../helpers/lab-server.js';
import { ProtocolClient } from '../../helpers/protocol-client.js';

test('a box at 90% of its disk cap gets the "nearly full" notice, deleted-but-open files included', async () => {
  const limits = loadConfig().limits;
  const server = await startTestServer({ sweepIntervalMs: 500, limits: { ...limits, shell: { ...limits.shell, diskMb: 64 } } });
  try {
    const s = await createSession(server, 'hello');
    const c = await ProtocolClient.open(server.url, s.token);
    // Notices about the session come on its channel (the page shows them once, whatever terminal is open).
    const channel = await ProtocolClient.openSession(server.url, s.token);
    await c.waitForText(/# $/, 30_000);
    // 60 of 64 MiB into a file that is deleted while the shell keeps it open (the cap may stop
    // it a little short: the image's blocks are estimated); `sync` commits it, so the kernel's
    // count is current.
    c.type('exec 3>/root/f; rm /root/f; head -c 60M /dev/zero >&3 2>/dev/null; sync; echo written-$((6*7))\r');
    await c.waitForText('written-42', 60_000);
    await channel.waitFor('the disk notice', () => channel.errors().some((e) => e.code === 'disk-nearly-full'), 15_000);
    const notice = channel.errors().find((e) => e.code === 'disk-nearly-full')!;
    assert.equal(notice.fatal, false);
    assert.deepEqual(c.errors(), [], 'not repeated on the terminal socket');
    const used = Number(/has used (\d+) MiB of its 64 MiB of disk/.exec(notice.message)?.[1]);
    assert.ok(used >= 0.9 * 64 && used <= 64, notice.message);
    assert.match(notice.message, /remove files to continue/);
    c.close();
    channel.close();
  } finally {
    await server.stop();
  }
});
