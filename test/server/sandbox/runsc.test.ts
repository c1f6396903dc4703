// gVisor (TERMLAB_RUNTIME=runsc) on the real engine, whatever TERMLAB_RUNTIME the suite runs
// with: runsc is built once (cached under the state dir), shell and docker boxes run on it
// (createBox with runtime 'runsc'), and the sandbox probes of the security battery that apply
// hold there too. The kubernetes profile is refused under runsc.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { loadConfig } from '../../../server/config.js';
import { createBox, destroyBox, KUBERNETES_NEEDS_RUNC, runscPidsLimit } from '../../../server/sandbox/boxes.js';
import { engineFacts } from '../../../server/sandbox/engine.js';
import { ensureRunsc } from '../../../server/sandbox/runsc.js';
import { classicEscapes, deletedFileDisk, kernelKeys, otherSessionBox, probeDefaults, procLeaks, withBox, LIMITS, type SandboxEnv } from '../../security/probes-sandbox.js';
import type { ProbeResult } from '../../security/probe.js';
import { engineAndImages, log, sh, stateDir, uniqueInstance, KUBERNETES_LIMITS } from './helpers.js';

let env: SandboxEnv;
before(async () => {
  await ensureRunsc({ stateDir, engineDir: loadConfig().engine.dir, log });
  env = await engineAndImages();
  if (!(await engineFacts(env.docker)).runsc) {
    throw new Error('the engine has no termlab-runsc runtimes: it was started before they existed. Stop it ' +
      '(pkill -x dockerd, wait until it is gone) and run node --import tsx scripts/prepare.ts to start it with them.');
  }
  probeDefaults.runtime = 'runsc';
});

function holds(r: ProbeResult): void {
  console.log(`${r.held ? 'held' : 'FAILED'} (runsc): ${r.name}: ${r.effect}`);
  assert.equal(r.held, true, `${r.name}: ${r.effect}`);
}

test('a shell box runs in gVisor, with the pids limit sized for gVisor', async () => {
  await withBox(env, 'shell', {}, async (box) => {
    assert.match(await sh(env.docker, box.id, 'uname -r'), /gvisor/);
    assert.equal(await sh(env.docker, box.id, 'echo $((6*7)) > /root/f && cat /root/f'), '42');
    const info = await env.docker.getContainer(box.id).inspect();
    assert.equal(info.HostConfig.Runtime, 'termlab-runsc');
    assert.equal(info.HostConfig.PidsLimit, runscPidsLimit(LIMITS.shell.pids));
  });
});

test('a docker box runs its own engine in gVisor: docker run, networks by name, published ports', async () => {
  await withBox(env, 'docker', {}, async (box) => {
    assert.match(await sh(env.docker, box.id, 'uname -r'), /gvisor/);
    assert.equal(await sh(env.docker, box.id, 'docker run --rm busybox echo hi', 60_000), 'hi');
    const page = await sh(env.docker, box.id, 'docker network create n1 >/dev/null && docker run -d --name web1 --network n1 web >/dev/null ' +
      '&& docker run --rm --network n1 busybox wget -qO- http://web1/', 60_000);
    assert.match(page, /Hello from termlab web/);
    const info = await env.docker.getContainer(box.id).inspect();
    assert.equal(info.HostConfig.Runtime, 'termlab-runsc-dind');
  });
});

test('the kubernetes profile is refused under runsc, saying it needs runc', async () => {
  const { images } = env;
  await assert.rejects(createBox(env.docker, {
    instance: uniqueInstance('rsk'), session: 's', profile: 'kubernetes', image: images.kubernetes,
    limits: KUBERNETES_LIMITS, internet: false, runtime: 'runsc',
  }).then((b) => destroyBox(env.docker, b)), (err: Error) => err.message.includes(KUBERNETES_NEEDS_RUNC));
});

test('security probes hold under runsc: classic escapes, kernel keys, disk, /proc leaks, another session', async () => {
  holds(await classicEscapes(env, 'shell'));
  holds(await classicEscapes(env, 'docker'));
  holds(await kernelKeys(env));
  holds(await deletedFileDisk(env));
  holds(await procLeaks(env, 'shell'));
  holds(await procLeaks(env, 'docker'));
  holds(await otherSessionBox(env));
});
