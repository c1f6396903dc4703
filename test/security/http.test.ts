// The HTTP and WebSocket part of the security battery: every probe of probes-http.ts must find its
// defence holding on a normally configured server, and must find it missing when the defence is
// turned off, so no probe can pass by measuring nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadConfig, type Config } from '../../server/config.js';
import type { LabServer } from '../../server/lab-server.js';
import { ensureWebBuilt } from '../helpers/browser.js';
import { startTestServer, stopAndListLeftovers } from '../helpers/lab-server.js';
import {
  EXPECTED, probeForwardedFor, probeHelloTimeout, probeHostHttp, probeHostWs, probeMetrics, probePageHeaders, probePortProxy,
  probeSessionsPerIp, probeSessionsPerLearner, probeSocketsPerIp, probeStartRate, type ProbeResult, type Target,
} from './probes-http.js';

/**
 * The normal server keeps every default but one: the per-address limit (20) is lowered to 4, under
 * the start burst (5), so the probe can reach it without two minutes of refills and 20 boxes.
 */
const SESSIONS_PER_IP = 4;
const defaults = loadConfig({});
/** startTestServer raises the start rate for the other test files; here it is the real default. */
const NORMAL: Partial<Config> = {
  sessionsPerIp: SESSIONS_PER_IP, sessionStartsPerMinute: defaults.sessionStartsPerMinute, sessionStartBurst: defaults.sessionStartBurst,
};

interface Case { name: string; probe: (t: Target) => Promise<ProbeResult>; weakened: Partial<Config>; how: string }

const CASES: Case[] = [
  { name: 'host allow-list (HTTP)', probe: probeHostHttp, weakened: { allowedHosts: ['*'] }, how: 'TERMLAB_ALLOWED_HOSTS=*' },
  { name: 'host allow-list (WebSocket)', probe: probeHostWs, weakened: { allowedHosts: ['*'] }, how: 'TERMLAB_ALLOWED_HOSTS=*' },
  { name: 'page security headers', probe: probePageHeaders, weakened: { unsafeWeaken: ['page-headers'] }, how: 'TERMLAB_UNSAFE_WEAKEN=page-headers' },
  { name: 'port links are sandboxed', probe: probePortProxy, weakened: { unsafeWeaken: ['port-proxy-headers'] }, how: 'TERMLAB_UNSAFE_WEAKEN=port-proxy-headers' },
  { name: '/metrics is closed', probe: probeMetrics, weakened: { unsafeWeaken: ['metrics'] }, how: 'TERMLAB_UNSAFE_WEAKEN=metrics' },
  { name: 'live labs per learner', probe: (t) => probeSessionsPerLearner(t), weakened: { sessionsPerLearner: 1000 }, how: 'TERMLAB_SESSIONS_PER_LEARNER=1000' },
  { name: 'live labs per address', probe: (t) => probeSessionsPerIp(t, SESSIONS_PER_IP), weakened: { sessionsPerIp: 1000 }, how: 'TERMLAB_SESSIONS_PER_IP=1000' },
  { name: 'lab start rate per address', probe: (t) => probeStartRate(t), weakened: { sessionStartsPerMinute: 1000, sessionStartBurst: 1000 }, how: 'TERMLAB_SESSION_STARTS_PER_MINUTE=1000, _BURST=1000' },
  { name: 'X-Forwarded-For is not believed', probe: (t) => probeForwardedFor(t), weakened: { trustProxy: 1 }, how: 'TERMLAB_TRUST_PROXY=1 with no proxy in front' },
  { name: 'hello timeout', probe: (t) => probeHelloTimeout(t), weakened: { helloTimeoutMs: 1_000_000 }, how: 'TERMLAB_HELLO_TIMEOUT_S=1000' },
  { name: 'open sockets per address', probe: (t) => probeSocketsPerIp(t), weakened: { socketsPerIp: 1000 }, how: 'TERMLAB_SOCKETS_PER_IP=1000' },
];

/** Each probe connects from its own loopback address, so per-address limits do not carry over. */
const from = (i: number) => `127.0.0.${10 + i}`;

// The page-headers probe reads the page the server serves from dist/web.
before(() => ensureWebBuilt());

describe('on a normally configured server every defence holds', () => {
  let server: LabServer;
  before(async () => { server = await startTestServer(NORMAL); });
  after(async () => { assert.deepEqual(await stopAndListLeftovers(server), []); });

  CASES.forEach((c, i) => {
    test(c.name, async (t) => {
      const result = await c.probe({ url: server.url, from: from(i) });
      t.diagnostic(`${result.name}: ${result.effect}`);
      assert.equal(result.held, true, `${result.name}: ${result.effect}`);
    });
  });

  test('the defaults the probes expect are the configured ones', () => {
    const c = server.config;
    assert.deepEqual(
      { sessionsPerLearner: c.sessionsPerLearner, sessionStartBurst: c.sessionStartBurst, sessionStartsPerMinute: c.sessionStartsPerMinute, helloTimeoutMs: c.helloTimeoutMs, socketsPerIp: c.socketsPerIp },
      EXPECTED,
    );
  });
});

describe('each probe notices its defence turned off', () => {
  CASES.forEach((c, i) => {
    test(`${c.name}, with ${c.how}`, async (t) => {
      const server = await startTestServer({ ...NORMAL, ...c.weakened });
      try {
        const result = await c.probe({ url: server.url, from: from(i) });
        t.diagnostic(`${result.name}: ${result.effect}`);
        assert.equal(result.held, false, `${result.name} did not notice ${c.how}: ${result.effect}`);
      } finally {
        assert.deepEqual(await stopAndListLeftovers(server), []);
      }
    });
  });
});
