// Starts a real lab server (real engine, real boxes) on a free port for one test file.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { loadConfig, type Config } from '../../server/config.js';
import { startLabServer, type LabServer, type LabServerOptions } from '../../server/lab-server.js';
import { LABEL } from '../../server/sandbox/engine.js';
import { createLogger } from '../../server/log.js';

export function testInstance(): string {
  return `t-${crypto.randomBytes(4).toString('hex')}`;
}

export async function startTestServer(overrides: Partial<Config> = {}, options: LabServerOptions = {}): Promise<LabServer> {
  const config = loadConfig(process.env, {
    port: 0,
    host: '127.0.0.1',
    instance: testInstance(),
    pool: { shell: 0, docker: 0, kubernetes: 0 },
    // Test files start many labs back to back from 127.0.0.1; test/security sets the real limits.
    sessionStartsPerMinute: 600,
    sessionStartBurst: 100,
    logLevel: process.env.TERMLAB_LOG_LEVEL === undefined ? 'warn' : loadConfig().logLevel,
    ...overrides,
  });
  return startLabServer(config, createLogger(config.logLevel), () => {}, options);
}

/** POST /api/sessions; returns the SessionInfo JSON. */
export async function createSession(server: LabServer, lab: string): Promise<{ id: string; token: string }> {
  const res = await fetch(`${server.url}/api/sessions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ lab }),
  });
  if (res.status !== 201) throw new Error(`creating a ${lab} session: ${res.status} ${await res.text()}`);
  return (await res.json()) as { id: string; token: string };
}

export async function until<T>(what: string, probe: () => T | Promise<T>, ms = 15_000, every = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** Stops the server and returns the names of any containers of its instance still there (should be none). */
export async function stopAndListLeftovers(server: LabServer | undefined): Promise<string[]> {
  if (!server) return [];
  await server.stop();
  const left = await server.driver.docker.listContainers({ all: true, filters: { label: [`${LABEL.instance}=${server.config.instance}`] } });
  return left.map((c) => c.Names[0] ?? c.Id);
}

/** Rewrites part of a lab's file as an editor saving it would (live reload); fails if `from` is not in it. */
export function editFile(file: string, from: string | RegExp, to: string): void {
  const text = fs.readFileSync(file, 'utf8');
  const next = text.replace(from, to);
  assert.notEqual(next, text, `${from} is not in ${file}`);
  fs.writeFileSync(file, next);
}
