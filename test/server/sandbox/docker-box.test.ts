import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { createBox, removeLeftovers, type Box } from '../../../server/sandbox/boxes.js';
import { DOCKER_LIMITS, engineAndImages, log, sh, shStatus, uniqueInstance } from './helpers.js';

describe('docker profile box (docker-in-docker)', () => {
  const instance = uniqueInstance('docker');
  let docker: Docker;
  let box: Box;

  before(async () => {
    const ready = await engineAndImages();
    docker = ready.docker;
    const t = Date.now();
    box = await createBox(docker, {
      instance, session: 's1', profile: 'docker', image: ready.images.docker,
      limits: DOCKER_LIMITS, internet: false,
    });
    log(`docker box ready in ${Date.now() - t} ms`);
  });
  after(async () => { if (docker) await removeLeftovers(docker, instance, () => {}); });

  test('the inner engine is up with the exercise images loaded', async () => {
    assert.equal(await sh(docker, box.id, 'docker image ls --format "{{.Repository}}:{{.Tag}}" | sort | tr "\\n" " "'),
      'busybox:latest web:latest');
    assert.equal(await sh(docker, box.id, 'docker run --rm busybox echo hi'), 'hi');
  });

  test('the web image answers HTTP on a published port', async () => {
    await sh(docker, box.id, 'docker run -d --name web1 -p 8080:80 web >/dev/null');
    const page = await sh(docker, box.id,
      'for i in $(seq 50); do curl -sf localhost:8080/ && exit 0; sleep 0.1; done; exit 1');
    assert.match(page, /Hello from termlab web/);
    const id = await sh(docker, box.id, 'docker inspect -f "{{.Config.Hostname}}" web1');
    assert.equal(await sh(docker, box.id, 'curl -sf localhost:8080/cgi-bin/hostname'), id);
  });

  test('limits hold for the box and for containers inside it', async () => {
    assert.equal(await sh(docker, box.id, 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes'),
      String(DOCKER_LIMITS.memoryMb * 1024 * 1024));
    assert.equal(await sh(docker, box.id, 'cat /sys/fs/cgroup/pids/pids.max'), String(DOCKER_LIMITS.pids));
    assert.equal(await sh(docker, box.id, 'docker run --rm --memory 64m --pids-limit 20 busybox ' +
      'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max | tr "\\n" " "'), '67108864 20');
    const size = await sh(docker, box.id, "df -m --output=size /var/lib/docker | tail -1");
    assert.equal(Number(size), DOCKER_LIMITS.diskMb);
  });

  test('root in the box is not host root: kernel knobs and its own limits stay out of reach', async () => {
    const map = (await sh(docker, box.id, 'cat /proc/self/uid_map')).split(/\s+/).map(Number);
    assert.equal(map[0], 0);
    assert.notEqual(map[1], 0);
    const drop = await shStatus(docker, box.id, 'echo 3 > /proc/sys/vm/drop_caches');
    assert.notEqual(drop.code, 0, 'write to /proc/sys/vm/drop_caches must fail');
    const raise = await shStatus(docker, box.id, 'echo 8589934592 > /sys/fs/cgroup/memory/memory.limit_in_bytes');
    assert.notEqual(raise.code, 0, 'the box must not raise its own memory limit');
    assert.notEqual((await shStatus(docker, box.id, 'echo max > /sys/fs/cgroup/pids/pids.max')).code, 0);
    // A fresh cgroup v1 hierarchy (the release_agent route) cannot be mounted.
    assert.notEqual((await shStatus(docker, box.id, 'mkdir -p /tmp/cg && mount -t cgroup -o rdma cgroup /tmp/cg')).code, 0);
    // The host's engine socket is never mounted in; the box's docker talks to its own engine.
    assert.equal(await sh(docker, box.id, 'grep -c docker.sock /proc/self/mountinfo || true'), '0');
    assert.equal(await sh(docker, box.id, 'docker info -f "{{.Name}}"'), 'docker-box');
  });
});
