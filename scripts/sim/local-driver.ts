// A SandboxDriver for the scale simulation only (scripts/bench-sim.ts), never for learners: a "box"
// is a folder of this host and its shell a local bash under node-pty, with no container, no
// isolation and no limits. It lets one machine hold a thousand sessions' worth of gateway work
// (terminals, output logs, screen mirrors, session channels, checks, database writes) where a
// thousand real boxes would not fit. What it stubs is said where the figures are printed.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import type { SandboxProfile } from '../../protocol/api.js';
import { ptyShell } from '../../server/sandbox/pty-shell.js';
import type { BoxHandle, BoxRequest, BoxShell, SandboxDriver, ScriptResult } from '../../server/sandbox/sandbox-driver.js';

/** The shell image's prompt hook (images/shell/bashrc): tells the server a command finished. */
const RC = `cd "$HOME"
PS1='sim:\\w\\$ '
__termlab_prompt() { local status=$?; printf '\\033]6973;prompt;%s\\007' "$status"; return $status; }
PROMPT_COMMAND=__termlab_prompt
`;

/** What the lab server reads of a driver besides SandboxDriver: image preparation (none here). */
interface Prepared {
  preparation: { statuses: () => Record<string, never>; status: () => undefined; refusal: () => undefined };
  prepareInBackground(): void;
}

/**
 * Scripts (checks) run by a process of their own, as an engine runs `docker exec`: the gateway only
 * writes a request and reads the answer. Forking a bash from the gateway itself (700 MiB and a
 * thousand ptys) cost it tens of milliseconds of kernel time per check, a cost no real backend has.
 */
const RUNNER = `
const { execFile } = require('node:child_process');
const rl = require('node:readline').createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const { id, script, home, timeoutMs } = JSON.parse(line);
  execFile('bash', ['-c', script], { cwd: home, env: { PATH: process.env.PATH, HOME: home }, timeout: timeoutMs }, (err, stdout, stderr) => {
    const timedOut = !!(err && err.killed);
    const exitCode = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
    process.stdout.write(JSON.stringify({ id, exitCode: timedOut ? 124 : exitCode, output: (stdout + stderr).trim(), timedOut }) + '\\n');
  });
});`;

function scriptRunner(): { run(req: { script: string; home: string; timeoutMs: number }): Promise<ScriptResult> } {
  const proc = spawn(process.execPath, ['-e', RUNNER], { stdio: ['pipe', 'pipe', 'inherit'] });
  proc.unref();
  const waiting = new Map<number, (r: ScriptResult) => void>();
  let next = 1;
  readline.createInterface({ input: proc.stdout! }).on('line', (line) => {
    const { id, ...result } = JSON.parse(line) as ScriptResult & { id: number };
    waiting.get(id)?.(result);
    waiting.delete(id);
  });
  return {
    run: (req) => new Promise((resolve) => {
      const id = next++;
      waiting.set(id, resolve);
      proc.stdin!.write(`${JSON.stringify({ id, ...req })}\n`);
    }),
  };
}

export function localDriver(root = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-sim-'))): SandboxDriver & Prepared & { root: string } {
  const runner = scriptRunner();
  const rc = path.join(root, 'bashrc');
  fs.writeFileSync(rc, RC);
  const homeOf = (box: BoxHandle): string => path.join(root, box.id);
  return {
    root,
    preparation: { statuses: () => ({}), status: () => undefined, refusal: () => undefined },
    prepareInBackground: () => {},
    enforcesDisk: true,
    available: (_profile: SandboxProfile) => undefined,
    checkIsolation: async () => {},
    removeLeftovers: async () => {},
    // Folders and local shells: only this process reaches them.
    place: `local:${process.pid}`,
    diskQuotaBytes: () => 64 * 2 ** 20,
    writableBytes: async () => 0,
    async create(request: BoxRequest): Promise<BoxHandle> {
      const id = `${request.session}-${request.hostname}`;
      fs.mkdirSync(path.join(root, id), { recursive: true });
      return { id, session: request.session, profile: request.profile };
    },
    async destroy(box: BoxHandle): Promise<void> {
      fs.rmSync(homeOf(box), { recursive: true, force: true });
    },
    openShell(box: BoxHandle, size: { cols: number; rows: number }): BoxShell {
      return ptyShell(['bash', '--noprofile', '--rcfile', rc, '-i'], size, { HOME: homeOf(box), TERM: 'xterm-256color' });
    },
    runScript(box: BoxHandle, script: string, timeoutMs: number): Promise<ScriptResult> {
      return runner.run({ script, home: homeOf(box), timeoutMs });
    },
    dial: (_box: BoxHandle, port: number) => net.connect(port, '127.0.0.1'),
  };
}
