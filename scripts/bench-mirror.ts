// `npm run bench -- --only mirror`: what a terminal's screen mirror costs the server per 16 MiB of
// output, beside @xterm/headless parsing every byte (what the mirror did before it kept floods
// unparsed and cut them, server/sessions/mirror-worker.ts). Plain lines (`cat big.log`) and
// coloured ones (which cannot be cut), at a pace a page takes them (6 MiB/s) and flat out. CPU is
// the whole process's (the mirror's thread included), less an idle loop's at the same pace.
// Prints figures; asserts nothing.
import headless from '@xterm/headless';
import { MirrorThreads } from '../server/sessions/mirror-thread.js';
import { ScreenMirror } from '../server/sessions/screen-mirror.js';

const MIB = 1024 * 1024;
const TOTAL = 16 * MIB;
const PIECE = 32 * 1024;
const COLS = 111;
const ROWS = 39;
const SCROLLBACK = 5000;

const floods = {
  plain: 'a'.repeat(100) + '\r\n',
  coloured: '\x1b[32m' + 'a'.repeat(45) + '\x1b[0m \x1b[1m' + 'b'.repeat(45) + '\x1b[0m\r\n',
};

function pieceOf(line: string): Buffer {
  return Buffer.from(line.repeat(Math.floor(PIECE / line.length)));
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(since);
  return (c.user + c.system) / 1e6;
}

/** Feeds TOTAL bytes to `write`, 6 pieces every 30 ms (about 6 MiB/s) when paced, else as fast as `write` takes them. */
async function feed(piece: Buffer, paced: boolean, write: (b: Buffer) => void | Promise<void>): Promise<void> {
  for (let sent = 0; sent < TOTAL;) {
    for (let i = 0; i < 6; i++, sent += piece.length) await write(piece);
    await new Promise((r) => setTimeout(r, paced ? 30 : 0));
  }
}

async function throughMirror(piece: Buffer, paced: boolean): Promise<{ cpu: number; snapshotMs: number }> {
  const threads = new MirrorThreads(1);
  const m = new ScreenMirror(COLS, ROWS, SCROLLBACK, () => {}, threads);
  // The thread started and xterm.js loaded before the clock starts.
  m.write(Buffer.from('warm\r\n'));
  await m.snapshot();
  const c0 = process.cpuUsage();
  await feed(piece, paced, (b) => m.write(b));
  const t = performance.now();
  await m.snapshot();
  const snapshotMs = performance.now() - t;
  const cpu = cpuSeconds(c0);
  m.dispose();
  await threads.stop();
  return { cpu, snapshotMs };
}

async function parsedWhole(piece: Buffer, paced: boolean): Promise<number> {
  const term = new headless.Terminal({ cols: COLS, rows: ROWS, scrollback: SCROLLBACK, allowProposedApi: true });
  await new Promise<void>((r) => term.write('warm\r\n', r));
  const c0 = process.cpuUsage();
  await feed(piece, paced, (b) => new Promise<void>((r) => term.write(b, r)));
  const cpu = cpuSeconds(c0);
  term.dispose();
  return cpu;
}

async function idle(piece: Buffer, paced: boolean): Promise<number> {
  const c0 = process.cpuUsage();
  await feed(piece, paced, () => {});
  return cpuSeconds(c0);
}

export async function benchMirror(runs: number): Promise<void> {
  console.log(`screen mirror per 16 MiB of output (${COLS}x${ROWS}, ${SCROLLBACK} lines of scrollback), CPU seconds less an idle feeder's, median of ${runs}:`);
  console.log('                                      mirror (kept, cut)   xterm.js parsing every byte   mirror/whole   snapshot after');
  for (const [kind, line] of Object.entries(floods)) {
    const piece = pieceOf(line);
    for (const paced of [true, false]) {
      const mirror: number[] = [];
      const whole: number[] = [];
      const snap: number[] = [];
      for (let i = 0; i < runs; i++) {
        const base = await idle(piece, paced);
        const m = await throughMirror(piece, paced);
        mirror.push(Math.max(0, m.cpu - base));
        snap.push(m.snapshotMs);
        whole.push(Math.max(0, (await parsedWhole(piece, paced)) - base));
      }
      const med = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
      const label = `  ${kind}, ${paced ? 'at 6 MiB/s' : 'flat out'}`.padEnd(38);
      console.log(`${label}${(med(mirror).toFixed(2) + ' s').padEnd(21)}${(med(whole).toFixed(2) + ' s').padEnd(30)}${(med(mirror) / med(whole)).toFixed(2).padEnd(15)}${med(snap).toFixed(0)} ms`);
    }
  }
}
