// The background preparation's bookkeeping, without an engine: phases and estimates as the page
// sees them, durations of real phases kept for the next estimate, a test's own phases not kept.
//   node --import tsx --test test/server/sandbox/preparation.test.ts
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { SandboxProfile } from '../../../protocol/api.js';
import { createLogger } from '../../../server/log.js';
import type { ImagePhase } from '../../../server/sandbox/images.js';
import { ProfilePreparation } from '../../../server/sandbox/preparation.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}

test('real phases are shown, timed and kept for the next estimate; readiness is announced once', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tl-prep-'));
  try {
    const ready: Array<[SandboxProfile, string]> = [];
    const prep = new ProfilePreparation(dir, createLogger('silent'), () => {}, (p, ref) => ready.push([p, ref]));
    const inBins = deferred();
    const binsDone = deferred();
    prep.start('kubernetes', (_p, ctx) => ctx.prepare(), async (onPhase: (phase: ImagePhase) => void) => {
      onPhase('kube-bins');
      inBins.resolve();
      await binsDone.promise;
      onPhase('image');
      return 'termlab/kubernetes:abc';
    });
    await inBins.promise;
    const status = prep.status('kubernetes')!;
    assert.equal(status.state, 'preparing');
    assert.equal(status.phase, 'building Kubernetes binaries');
    assert.equal(status.expectedMs, 10 * 60_000, 'the documented default before any build here');
    // This phase's rest plus the image build after it (the phase has run a few ms already).
    assert.ok(status.leftMs! <= 13 * 60_000 && status.leftMs! > 13 * 60_000 - 5000, `left ${status.leftMs} ms`);
    assert.match(prep.refusal('kubernetes')!, /^The Kubernetes sandbox is still being prepared \(building Kubernetes binaries, about 13 min left\); try again then\.$/);
    binsDone.resolve();
    await prep.settled();
    assert.deepEqual(prep.statuses(), { kubernetes: { state: 'ready' } });
    assert.equal(prep.refusal('kubernetes'), undefined);
    assert.deepEqual(ready, [['kubernetes', 'termlab/kubernetes:abc']]);

    const kept = JSON.parse(readFileSync(path.join(dir, 'preparation-times.json'), 'utf8')) as Record<string, number>;
    assert.deepEqual(Object.keys(kept).sort(), ['kubernetes/image', 'kubernetes/kube-bins']);
    // The next run estimates from what this one took.
    const next = new ProfilePreparation(dir, createLogger('silent'), () => {}, () => {});
    const entered = deferred();
    const held = deferred();
    next.start('kubernetes', async (_p, ctx) => {
      ctx.phase('kube-bins');
      entered.resolve();
      await held.promise;
      throw new Error('stopped');
    }, async () => '');
    await entered.promise;
    assert.equal(next.status('kubernetes')!.expectedMs, kept['kubernetes/kube-bins']);
    held.resolve();
    await next.settled();
    // An injected step's phase is not this machine's build time: nothing new was kept.
    assert.deepEqual(JSON.parse(readFileSync(path.join(dir, 'preparation-times.json'), 'utf8')), kept);
    assert.equal(next.status('kubernetes')!.state, 'failed');
    assert.equal(next.status('kubernetes')!.error, 'stopped');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
