// Runs the real asciinema program (Debian's asciinema 2.2) on a recording. `asciinema cat` opens
// /dev/tty, which test runs and CI lack, so it runs under a pty here.
import pty from 'node-pty';

export function asciinemaCat(file: string, timeoutMs = 30_000): Promise<{ exitCode: number; output: string }> {
  return new Promise((resolve, reject) => {
    const proc = pty.spawn('asciinema', ['cat', file], { cols: 200, rows: 50, env: { ...process.env, TERM: 'xterm-256color' } as Record<string, string> });
    let output = '';
    const timer = setTimeout(() => { proc.kill(); reject(new Error(`asciinema cat ${file} did not finish in ${timeoutMs} ms`)); }, timeoutMs);
    proc.onData((d) => { output += d; });
    proc.onExit(({ exitCode }) => { clearTimeout(timer); resolve({ exitCode, output }); });
  });
}
