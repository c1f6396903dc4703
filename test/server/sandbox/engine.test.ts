import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { ensureEngine, installFirewall, remappedRoot, FIREWALL_CHAIN_INPUT } from '../../../server/sandbox/engine.js';
import { ensureImages, IMAGE_REPO } from '../../../server/sandbox/images.js';
import { engineAndImages, log, stateDir } from './helpers.js';

test('the engine answers and remaps user namespaces', async () => {
  const { docker } = await engineAndImages();
  const info = (await docker.info()) as { SecurityOptions: string[]; DockerRootDir: string };
  assert.ok(info.SecurityOptions.includes('name=userns'), `SecurityOptions: ${info.SecurityOptions.join(' ')}`);
  const { uid, gid } = remappedRoot();
  assert.ok(uid >= 1000 && gid >= 1000, `remapped root ${uid}:${gid}`);
  assert.match(info.DockerRootDir, new RegExp(`/${uid}\\.${gid}$`));
});

test('ensureEngine and the firewall are idempotent', async () => {
  await ensureEngine({ stateDir, log: () => {} });
  await installFirewall(() => {});
  for (const bin of ['iptables', 'ip6tables']) {
    const rules = execFileSync(bin, ['-w', '-S', 'INPUT'], { encoding: 'utf8' });
    const hooks = rules.split('\n').filter((l) => l.includes(`-j ${FIREWALL_CHAIN_INPUT}`));
    assert.deepEqual(hooks, [`-A INPUT -i tl-+ -j ${FIREWALL_CHAIN_INPUT}`], `${bin} INPUT:\n${rules}`);
  }
});

test('images are cached: a second ensureImages only inspects', async () => {
  const { docker, images } = await engineAndImages();
  const t = Date.now();
  const again = await ensureImages(docker, { log, stateDir });
  assert.deepEqual(again, images);
  assert.ok(Date.now() - t < 5000, `cached ensureImages took ${Date.now() - t} ms`);
  for (const [profile, ref] of Object.entries(images)) {
    assert.ok(ref.startsWith(`${IMAGE_REPO[profile as 'shell' | 'docker']}:`), ref);
    await docker.getImage(ref).inspect();
  }
});
