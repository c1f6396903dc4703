import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LABEL } from '../../../server/sandbox/engine.js';
import { createBox, destroyBox, listBoxes, removeLeftovers } from '../../../server/sandbox/boxes.js';
import { engineAndImages, SHELL_LIMITS, uniqueInstance } from './helpers.js';

test('destroyBox removes the box, and the session network with its last box', async () => {
  const { docker, images } = await engineAndImages();
  const instance = uniqueInstance('destroy');
  try {
    const spec = { instance, session: 's1', profile: 'shell' as const, image: images.shell, limits: SHELL_LIMITS, internet: false };
    const [one, two] = await Promise.all([createBox(docker, { ...spec, hostname: 'one' }), createBox(docker, { ...spec, hostname: 'two' })]);
    assert.equal(one.networkId, two.networkId, 'two boxes created at once share the session network');
    assert.deepEqual((await listBoxes(docker, instance)).map((b) => b.hostname).sort(), ['one', 'two']);
    await destroyBox(docker, one);
    await docker.getNetwork(one.networkId).inspect(); // still used by two
    await destroyBox(docker, two);
    await assert.rejects(docker.getNetwork(one.networkId).inspect(), /404|no such network/i);
    assert.deepEqual(await listBoxes(docker, instance), []);
    await destroyBox(docker, two); // already gone: fine
  } finally {
    await removeLeftovers(docker, instance, () => {});
  }
});

test('removeLeftovers removes every labelled container, network and volume of its instance only', async () => {
  const { docker, images } = await engineAndImages();
  const instance = uniqueInstance('left');
  const other = uniqueInstance('other');
  try {
    const labels = (inst: string) => ({ [LABEL.instance]: inst, [LABEL.role]: 'volume' });
    await createBox(docker, { instance, session: 's1', profile: 'shell', image: images.shell, limits: SHELL_LIMITS, internet: false });
    await createBox(docker, { instance, session: 's2', profile: 'shell', image: images.shell, limits: SHELL_LIMITS, internet: true });
    await docker.createVolume({ Name: `${instance}-vol`, Labels: labels(instance) });
    const keep = await createBox(docker, { instance: other, session: 's1', profile: 'shell', image: images.shell, limits: SHELL_LIMITS, internet: false });

    const removed = await removeLeftovers(docker, instance, () => {});
    assert.deepEqual(removed, { containers: 2, networks: 2, volumes: 1 });
    const filters = { label: [`${LABEL.instance}=${instance}`] };
    assert.equal((await docker.listContainers({ all: true, filters })).length, 0);
    assert.equal((await docker.listNetworks({ filters })).length, 0);
    assert.equal(((await docker.listVolumes({ filters })).Volumes ?? []).length, 0);
    assert.deepEqual((await listBoxes(docker, other)).map((b) => b.id), [keep.id], 'another instance is left alone');
    assert.deepEqual(await removeLeftovers(docker, instance, () => {}), { containers: 0, networks: 0, volumes: 0 });
  } finally {
    await removeLeftovers(docker, instance, () => {});
    await removeLeftovers(docker, other, () => {});
  }
});

test('removeLeftovers spares the boxes and networks of live replicas sharing the instance, and removes a gone one\'s', async () => {
  const { docker, images } = await engineAndImages();
  const instance = uniqueInstance('replicas');
  try {
    const spec = { instance, profile: 'shell' as const, image: images.shell, limits: SHELL_LIMITS, internet: false };
    const live = await createBox(docker, { ...spec, replica: 'live-1', session: 's1' });
    const gone = await createBox(docker, { ...spec, replica: 'gone-1', session: 's2' });
    // A box made before boxes carried their replica belongs to nobody live.
    const unowned = await createBox(docker, { ...spec, session: 's3' });

    const removed = await removeLeftovers(docker, instance, () => {}, new Set(['live-1', 'another-live']));
    assert.deepEqual(removed, { containers: 2, networks: 2, volumes: 0 });
    assert.deepEqual((await listBoxes(docker, instance)).map((b) => b.id), [live.id]);
    await docker.getNetwork(live.networkId).inspect(); // the live replica's session network stays
    for (const box of [gone, unowned]) await assert.rejects(docker.getNetwork(box.networkId).inspect(), /404|no such network/i);
    assert.equal((await docker.getContainer(live.id).inspect()).State.Running, true);
  } finally {
    await removeLeftovers(docker, instance, () => {});
  }
});
