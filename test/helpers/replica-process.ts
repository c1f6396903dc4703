// server/main.ts (what `npm start` runs) in a process of its own: a gateway replica that a test or
// the bench can kill as a crash would, or stop with SIGTERM as an orchestrator does.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export async function startReplicaProcess(env: Record<string, string>): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, '../../server/main.ts')], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', TERMLAB_POOL: 'shell=0,docker=0,kubernetes=0', TERMLAB_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
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
