// Keystroke echo as a learner feels it: type one character into `cat`, wait until the tty's echo
// of it comes back through the WebSocket. Shared by the benchmarks and the security battery.
import type { ProtocolClient } from './protocol-client.js';

/** The p-th percentile (0-100) of `values`, nearest rank. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** Puts each client's shell into `cat`, so what is typed is echoed once and nothing else prints. */
export async function intoCat(clients: ProtocolClient[]): Promise<void> {
  for (const c of clients) {
    // A fresh tag each time, printed by the shell (the command line's echo shows it quoted), so
    // this waits for this command and not an earlier one's output.
    const tag = `cat-${Math.random().toString(36).slice(2, 10)}`;
    c.type(`stty -icanon; echo ${tag.replace('-', "''-")}; cat >/dev/null\r`);
    await c.waitForText(`${tag}\r\n`);
  }
}

/** One keystroke's round trip on a client already in `cat` (ms). */
export async function echoOnce(c: ProtocolClient, i: number): Promise<number> {
  const ch = String.fromCharCode(97 + (i % 26));
  const before = c.offset;
  const t0 = performance.now();
  c.type(ch);
  await c.waitFor('echo', () => c.offset > before && c.output.subarray(c.output.length - (c.offset - before)).includes(ch), 10_000);
  return performance.now() - t0;
}

/**
 * Each client types `keystrokes` characters one at a time, `gapMs` apart (0: flat out), all
 * clients at once; returns every round trip (ms). The shells are left in `cat`: see leaveCat.
 * `staggered`: each client starts at its own point within the first gap, as people typing
 * independently do; otherwise all type in lockstep, every client's key in the same moment.
 */
export async function echoRoundTrips(clients: ProtocolClient[], keystrokes: number, gapMs = 0, staggered = false): Promise<number[]> {
  const all: number[] = [];
  await Promise.all(clients.map(async (c, k) => {
    if (staggered && gapMs) await new Promise((r) => setTimeout(r, (k * gapMs) / clients.length));
    for (let i = 0; i < keystrokes; i++) {
      all.push(await echoOnce(c, i));
      if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
    }
  }));
  return all;
}

/** Back to the prompt: interrupts `cat` and waits for the shell's next prompt. */
export async function leaveCat(clients: ProtocolClient[]): Promise<void> {
  await Promise.all(clients.map(async (c) => {
    const before = c.prompts();
    c.type('\x03');
    await c.waitFor('the prompt after ^C', () => c.prompts() > before);
  }));
}

