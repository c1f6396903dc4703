// server/main.ts (what `npm start` runs) in a process of its own: a gateway replica that a test or
// the bench can kill as a crash would, or stop with SIGTERM as an orchestrator does. Also the
// scale simulation's server (scripts/sim/sim-server.ts), started the same way.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export function startReplicaProcess(env: Record<string, string>): Promise<{ url: string; proc: ChildProcess }> {
  return startServerProcess(path.join(import.meta.dirname, '../../server/main.ts'),
    { PORT: '0', HOST: '127.0.0.1', TERMLAB_POOL: 'shell=0,docker=0,kubernetes=0', TERMLAB_LOG_LEVEL: 'warn', ...env });
}

/** A TypeScript entry that starts a lab server and says "ready: open URL" on stderr, as server/main.ts does. */
export async function startServerProcess(entry: string, env: Record<string, string>): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', entry], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    proc.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      const m = /ready: open (http:\S+)/.exec(log);
      if (m) resolve(m[1]!);
    });
    proc.on('exit', (code) => reject(new Error(`the replica exited (${code}) before it was ready:\n${log}`)));
  });
  return { url, proc };
}
