// A shell on a pseudo-terminal of this host, under node-pty: the Docker backend's BoxShell is
// `docker exec -it` run this way, and tests run a local bash the same way. Input into it is bounded
// (pty-input.ts).
import pty from 'node-pty';
import { calmWriteRetries, pendingInput } from './pty-input.js';
import type { BoxShell } from './sandbox-driver.js';

export function ptyShell(argv: readonly string[], size: { cols: number; rows: number }, env: Record<string, string> = {}): BoxShell {
  const [file, ...args] = argv;
  if (!file) throw new Error('a shell needs a command');
  const proc = pty.spawn(file, args, {
    name: 'xterm-256color',
    cols: size.cols,
    rows: size.rows,
    encoding: null,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
  } as pty.IPtyForkOptions);
  calmWriteRetries(proc);
  return {
    pid: proc.pid,
    onData: (listener) => { proc.onData((data) => listener(data as unknown as Buffer)); },
    onExit: (listener) => { proc.onExit(({ exitCode }) => listener(exitCode)); },
    write: (data) => proc.write(data),
    resize: (cols, rows) => proc.resize(cols, rows),
    pause: () => proc.pause(),
    resume: () => proc.resume(),
    get pendingInput() { return pendingInput(proc); },
    kill: () => proc.kill(),
  };
}
