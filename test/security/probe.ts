// The security battery's common shape: a probe tries one abuse, as a hostile learner would, on
// real boxes or against the real server, and says whether the defence held and what it measured.
// Each probe also has a test that runs it on a deliberately weakened setting and sees it fail:
// a probe that cannot fail proves nothing.

export interface ProbeResult {
  name: string;
  held: boolean;
  /** The measured effect, for people: "wrote 64.0 MiB of 3072 MiB asked; host free space -64 MiB". */
  effect: string;
}

export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** Prints results as a table (npm run security). */
export function report(results: ProbeResult[]): string {
  const width = Math.max(...results.map((r) => r.name.length), 10);
  return results.map((r) => `${r.held ? 'held  ' : 'FAILED'}  ${r.name.padEnd(width)}  ${r.effect}`).join('\n');
}
