// The recordings part of the security battery: every probe of probes-recordings.ts must find its
// defence holding with the default limits (some lowered so a probe takes seconds, not minutes),
// and must find it missing when that limit is set far too high, so no probe passes by measuring nothing.
//   node --import tsx --test test/security/recordings.test.ts
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig, type Config, type RecordingLimits } from '../../server/config.js';
import { startTestServer, stopAndListLeftovers } from '../helpers/lab-server.js';
import {
  probeCount, probeDuration, probeFloodSize, probeLearnerBytes, probeRetention, probeSlowDisk, type ProbeResult, type RecordingExpectations,
} from './probes-recordings.js';
import type { LabServer } from '../../server/lab-server.js';

const MiB = 2 ** 20;
const DEFAULTS = loadConfig({}).recordings;

interface Case {
  probe: (server: LabServer, expect: RecordingExpectations) => Promise<ProbeResult>;
  /** The limits the probe runs with (defaults otherwise), and what it expects of them. */
  normal: Partial<RecordingLimits>;
  weakened: Partial<RecordingLimits>;
  how: string;
}

const CASES: Case[] = [
  { probe: probeFloodSize, normal: { maxBytes: 8 * MiB }, weakened: { maxBytes: 4096 * MiB }, how: 'TERMLAB_RECORDING_MAX_MB=4096' },
  { probe: probeSlowDisk, normal: {}, weakened: { bufferBytes: 1024 * MiB }, how: 'TERMLAB_RECORDING_BUFFER_KB=1048576' },
  { probe: probeDuration, normal: { maxDurationMs: 3000 }, weakened: { maxDurationMs: 2 * 3600_000 }, how: 'TERMLAB_RECORDING_MAX_S=7200' },
  { probe: probeCount, normal: { maxPerLearner: 5 }, weakened: { maxPerLearner: 1000 }, how: 'TERMLAB_RECORDINGS_PER_LEARNER=1000' },
  { probe: probeLearnerBytes, normal: { maxBytes: 1 * MiB, maxBytesPerLearner: 3 * MiB }, weakened: { maxBytesPerLearner: 10_240 * MiB }, how: 'TERMLAB_RECORDINGS_LEARNER_MB=10240' },
  { probe: probeRetention, normal: {}, weakened: { retentionMs: 36_500 * 86_400_000 }, how: 'TERMLAB_RECORDING_RETENTION_DAYS=36500' },
];

/** What the probes expect: the normal limits, whatever the server under test is configured with. */
function expectations(limits: RecordingLimits): RecordingExpectations {
  return {
    maxBytes: limits.maxBytes, maxDurationMs: limits.maxDurationMs, maxPerLearner: limits.maxPerLearner,
    maxBytesPerLearner: limits.maxBytesPerLearner, retentionDays: limits.retentionMs / 86_400_000, bufferBytes: limits.bufferBytes,
    // Loose: the probes' own clients decode the flood in the same process (the file and buffer bounds are exact).
    rssGrowth: 160 * MiB,
  };
}

/** Session starts are not what these probes are about: their rate limit is lifted. */
function server(recordings: RecordingLimits): Promise<LabServer> {
  const overrides: Partial<Config> = { recordings, sessionStartsPerMinute: 600, sessionStartBurst: 100 };
  return startTestServer(overrides);
}

async function run(c: Case, limits: RecordingLimits, expect: RecordingExpectations): Promise<ProbeResult> {
  const s = await server(limits);
  try {
    return await c.probe(s, expect);
  } finally {
    assert.deepEqual(await stopAndListLeftovers(s), []);
  }
}

test('the defaults are the documented ones', () => {
  assert.deepEqual(DEFAULTS, {
    maxBytes: 64 * MiB, maxDurationMs: 2 * 3600_000, maxPerLearner: 50, maxBytesPerLearner: 512 * MiB, retentionMs: 30 * 86_400_000, bufferBytes: 256 * 1024,
  });
});

describe('with the default limits every recording defence holds', () => {
  CASES.forEach((c, i) => {
    test(`probe ${i + 1}${Object.keys(c.normal).length ? ` (${Object.keys(c.normal).join(', ')} lowered)` : ''}`, { timeout: 300_000 }, async (t) => {
      const limits = { ...DEFAULTS, ...c.normal };
      const result = await run(c, limits, expectations(limits));
      t.diagnostic(`${result.name}: ${result.effect}`);
      assert.equal(result.held, true, `${result.name}: ${result.effect}`);
    });
  });
});

describe('each recording probe notices its limit set too high', () => {
  CASES.forEach((c, i) => {
    test(`probe ${i + 1} with ${c.how}`, { timeout: 300_000 }, async (t) => {
      const normal = { ...DEFAULTS, ...c.normal };
      const result = await run(c, { ...normal, ...c.weakened }, expectations(normal));
      t.diagnostic(`${result.name}: ${result.effect}`);
      assert.equal(result.held, false, `${result.name} did not notice ${c.how}: ${result.effect}`);
    });
  });
});
