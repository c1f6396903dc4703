import assert from 'node:assert/strict';
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import os from 'node:os';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { createBox, removeLeftovers, type Box } from '../../../server/sandbox/boxes.js';
import { engineAndImages, sh, shStatus, SHELL_LIMITS, uniqueInstance } from './helpers.js';

/** `bash /dev/tcp` connect with a 3 s cap; exit 0 only if the connection opened. */
const connect = (host: string, port: number): string => `timeout 3 bash -c 'exec 3<>/dev/tcp/${host}/${port}'`;

/** A non-loopback IPv4 address of this host (not a Docker bridge). */
function hostAddress(): string {
  for (const [name, addrs] of Object.entries(os.networkInterfaces())) {
    if (/^(lo|docker|br-|tl-|veth)/.test(name)) continue;
    const a = (addrs ?? []).find((x) => x.family === 'IPv4' && !x.internal);
    if (a) return a.address;
  }
  throw new Error('no non-loopback IPv4 address on this host');
}

describe('session networks', () => {
  const instance = uniqueInstance('net');
  let docker: Docker;
  let a: Box; let b1: Box; let b2: Box; let e: Box;
  let server: net.Server;
  let port = 0;
  const hostIp = hostAddress();

  before(async () => {
    const ready = await engineAndImages();
    docker = ready.docker;
    const spec = (session: string, hostname: string, internet = false) => createBox(docker, {
      instance, session, hostname, internet, profile: 'shell', image: ready.images.shell, limits: SHELL_LIMITS,
    });
    [a, b1, e] = await Promise.all([spec('a', 'alpha'), spec('b', 'bravo'), spec('e', 'echo', true)]);
    b2 = await spec('b', 'charlie');
    // A TCP listener in box b1, and one on the host's 0.0.0.0 (as the lab server's port would be).
    await sh(docker, b1.id, '(nc -lk 7000 </dev/null >/dev/null 2>&1 &) ; sleep 0.2');
    server = net.createServer((s) => { s.on('error', () => {}); s.end('host\n'); });
    await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
    port = (server.address() as net.AddressInfo).port;
  });
  after(async () => {
    server?.close();
    if (docker) await removeLeftovers(docker, instance, () => {});
  });

  test('boxes of one session reach each other, by address and by hostname', async () => {
    assert.equal(b1.networkId, b2.networkId);
    await sh(docker, b2.id, connect(b1.ip, 7000));
    await sh(docker, b2.id, connect('bravo', 7000));
    await sh(docker, b2.id, `ping -c1 -W2 ${b1.ip} >/dev/null`);
  });

  test('a box cannot reach another session\'s box (TCP, ping), with or without internet', async () => {
    assert.notEqual(a.networkId, b1.networkId);
    for (const from of [a, e]) {
      const tcp = await shStatus(docker, from.id, connect(b1.ip, 7000));
      assert.notEqual(tcp.code, 0, `${from.hostname} -> ${b1.ip}:7000 opened`);
      assert.notEqual((await shStatus(docker, from.id, `ping -c1 -W2 ${b1.ip}`)).code, 0);
    }
  });

  test('no box reaches a port the host listens on (0.0.0.0), via its gateway or the host address', async () => {
    // The listener does answer on the host address from the host itself.
    await new Promise<void>((resolve, reject) => {
      const c = net.connect(port, hostIp, () => { c.destroy(); resolve(); }).on('error', reject);
    });
    for (const box of [a, e]) {
      const gw = await sh(docker, box.id, "ip -4 route | awk '/ src / { split($1, n, \"/\"); split(n[1], o, \".\"); print o[1]\".\"o[2]\".\"o[3]\".1\" }'");
      for (const target of [gw, hostIp]) {
        const r = await shStatus(docker, box.id, connect(target, port));
        assert.notEqual(r.code, 0, `${box.hostname} reached the host at ${target}:${port}`);
        assert.ok(r.ms < 3000, `should fail fast (${r.ms} ms)`);
      }
    }
  });

  test('without internet a box cannot connect out (fails fast)', async () => {
    // deb.debian.org is the one outside address this test may address, and only to fail.
    const { address } = await lookup('deb.debian.org', { family: 4 });
    const r = await shStatus(docker, a.id, connect(address, 80));
    assert.notEqual(r.code, 0, `a box without internet connected to ${address}:80`);
    assert.ok(r.ms < 3000, `took ${r.ms} ms`);
    const dns = await shStatus(docker, a.id, 'getent ahostsv4 deb.debian.org');
    assert.notEqual(dns.code, 0, 'external names do not resolve');
    assert.ok(dns.ms < 4000, `name lookup took ${dns.ms} ms`);
  });
});
