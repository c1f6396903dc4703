// The sandbox half of the security battery: each probe holds on the real setting, and fails on a
// deliberately weakened one (so it is shown to detect what it looks for).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { firewallIntact, installFirewall } from '../../server/sandbox/engine.js';
import type { LabServer } from '../../server/lab-server.js';
import { startTestServer, until } from '../helpers/lab-server.js';
import { engineAndImages } from '../server/sandbox/helpers.js';
import { classicEscapes, deletedFileDisk, kernelKeys, otherSessionBox, procLeaks, type SandboxEnv } from './probes-sandbox.js';
import { echoUnderAttack, hostPorts, inputFlood, ipv6ToHost, removeInputFirewall, resizeFlood } from './probes-server.js';
import type { ProbeResult } from './probe.js';

let env: SandboxEnv;
let server: LabServer;
before(async () => {
  env = await engineAndImages();
  // On all addresses, as a server behind a proxy would be: the box-to-host probes need something to hit.
  // Its sweeper must not restore the firewall in the middle of a weakened probe (that it does
  // restore it is tested below, on a server of its own).
  server = await startTestServer({ host: '::', maxSessions: 10, sweepIntervalMs: 3_600_000 });
});
after(async () => { await server?.stop(); });

function holds(r: ProbeResult): void {
  console.log(`${r.held ? 'held' : 'FAILED'}: ${r.name}: ${r.effect}`);
  assert.equal(r.held, true, `${r.name}: ${r.effect}`);
}
function detects(r: ProbeResult): void {
  console.log(`(weakened) ${r.held ? 'held' : 'failed'}: ${r.name}: ${r.effect}`);
  assert.equal(r.held, false, `on its weakened setting the probe must fail: ${r.name}: ${r.effect}`);
}

test('kernel keys: a docker box takes none; without its seccomp profile it takes them', async () => {
  holds(await kernelKeys(env));
  detects(await kernelKeys(env, { noSeccomp: true }));
});

test('a kubernetes box: kernel keys, /proc leaks and the classic escapes hold', async () => {
  holds(await kernelKeys(env, undefined, 'kubernetes'));
  holds(await procLeaks(env, 'kubernetes'));
  holds(await classicEscapes(env, 'kubernetes'));
});

test('disk: a deleted-but-open file stops at the limit; without the engine quota it does not', async () => {
  holds(await deletedFileDisk(env));
  detects(await deletedFileDisk(env, false));
});

test('/proc leaks are masked or unreadable in shell and docker boxes; unmasked they show', async () => {
  holds(await procLeaks(env, 'shell'));
  holds(await procLeaks(env, 'docker'));
  detects(await procLeaks(env, 'shell', { noMasks: true, keyrings: true }));
});

test('classic escapes are refused in shell and docker boxes; as host root they work', async () => {
  holds(await classicEscapes(env, 'shell'));
  holds(await classicEscapes(env, 'docker'));
  detects(await classicEscapes(env, 'shell', { hostRoot: true }));
});

test("another session's box cannot be reached; a box of the same session can", async () => {
  holds(await otherSessionBox(env));
  detects(await otherSessionBox(env, true));
});

test("the host's ports are closed to boxes; without the firewall hook they are open", async () => {
  holds(await hostPorts(server));
  await removeInputFirewall();
  try {
    detects(await hostPorts(server));
  } finally {
    await installFirewall(() => {});
  }
});

test("the sweeper notices the firewall's hook gone and puts it back", async () => {
  const watched = await startTestServer({ sweepIntervalMs: 250 });
  try {
    await removeInputFirewall();
    assert.equal(await firewallIntact(), false);
    await until('the sweeper to restore the firewall', () => firewallIntact(), 15_000);
  } finally {
    await watched.stop();
    await installFirewall(() => {});
  }
});

test('IPv6 re-enabled in a docker box reaches nothing; with the host side open and no ip6tables hook it does', async () => {
  holds(await ipv6ToHost(server));
  try {
    detects(await ipv6ToHost(server, true));
  } finally {
    await installFirewall(() => {});
  }
});

test('an input flood is bounded; with a huge input buffer it is not', async () => {
  holds(await inputFlood(server));
  const loose = await startTestServer({ host: '127.0.0.1', inputBufferKb: 1024 * 1024 });
  try {
    detects(await inputFlood(loose));
  } finally {
    await loose.stop();
  }
});

test('a resize flood is coalesced; with coalescing off it is not', async () => {
  holds(await resizeFlood(server));
  const loose = await startTestServer({ host: '127.0.0.1', resizeIntervalMs: 0 });
  try {
    detects(await resizeFlood(loose));
  } finally {
    await loose.stop();
  }
});

test("another learner's echo during the worst attack", async () => {
  holds(await echoUnderAttack(server));
});
