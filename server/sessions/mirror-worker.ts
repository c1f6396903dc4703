// The screen mirrors' own thread (see mirror-thread.ts): every terminal's @xterm/headless lives
// here, so parsing a flood, reflowing scrollback on a resize and the garbage both make are paid
// on this thread and its heap, never on the event loop that echoes everyone's keystrokes.
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import headless from '@xterm/headless';
import serialize from '@xterm/addon-serialize';
import { fastForward, skipState } from '../../protocol/fast-forward.js';
import { joinBytes } from '../../protocol/messages.js';

const { Terminal } = headless;
const { SerializeAddon } = serialize;

/** From the server to this thread, in batches (arrays). Offsets are counted here, per mirror, from its open. */
export type ToMirror =
  | { op: 'open'; id: number; cols: number; rows: number; scrollback: number }
  | { op: 'write'; id: number; data: Uint8Array }
  | { op: 'resize'; id: number; cols: number; rows: number }
  | { op: 'snapshot'; id: number; request: number }
  | { op: 'close'; id: number };

/** Back to the server: how far a mirror has parsed, and snapshots asked for. */
export type FromMirror =
  | { op: 'parsed'; id: number; bytes: number }
  | { op: 'snapshot'; id: number; request: number; data: string; bytes: number };

interface Mirror {
  term: InstanceType<typeof Terminal>;
  serializer: InstanceType<typeof SerializeAddon>;
  scrollback: number;
  /** Bytes received since open. */
  received: number;
  /** Of those, the bytes the terminal's state reflects: xterm.js counts a write once it is parsed whole. */
  parsed: number;
  /** The offset told to the server last (see report). */
  reported: number;
  /** Writes handed to xterm.js and not parsed yet: how many bytes they hold, and how many received bytes they stand for. */
  inFlight: { bytes: number; covers: number };
  /**
   * What arrived and is not handed to xterm.js yet: kept, not parsed, until the output pauses, a
   * snapshot or resize needs it, or it grows past HOLD_BYTES (see take). It may stand for more
   * received bytes than it holds, when a flood was cut.
   */
  pending: Uint8Array[];
  held: { bytes: number; covers: number };
  /** When the last output arrived (performance.now()). */
  lastWrite: number;
  /** Snapshots asked for; each goes once the bytes received before it are parsed. */
  snapshots: number[];
  /** What had been received when the last of them was asked for. */
  snapshotAt: number;
}

/** The nice value of this thread: 10 gives it about a tenth of a core that is wanted elsewhere. */
const MIRROR_NICE = 10;
/**
 * Output a mirror keeps unparsed, at most. A flood of plain lines is cut down to what stays in the
 * scrollback (protocol/fast-forward.ts) each time it reaches this, without parsing: the 16 MiB of a
 * `cat` then cost the thread one parse of its last lines instead of all of them, which took 1.1 s
 * of a core that the learner's browser wanted on a 2-core machine. Output that cannot be cut
 * (colours, cursor movement) is parsed when it reaches this.
 */
const HOLD_BYTES = 1024 * 1024;
const ESC = 0x1b;
/** Output that stops for this long is parsed (ms): a snapshot then finds it ready. */
const QUIET_MS = 100;

const mirrors = new Map<number, Mirror>();
/** Progress not yet reported: one message per mirror per turn, not one per write. */
const unreported = new Set<number>();
let reportSoon = false;
let quietTimer: ReturnType<typeof setTimeout> | undefined;

function post(msg: FromMirror): void { parentPort!.postMessage(msg); }

/**
 * Tells the server how much output it may stop counting against this mirror. Output kept here
 * within HOLD_BYTES counts: it will be on the screen before any snapshot is made, and the thread's
 * memory for it is bounded. Past that (output that cannot be cut and parses slower than it comes)
 * only what is parsed counts, so the server's flow control pauses the shell as it always did. So
 * too while a snapshot waits for its bytes to be parsed: the server's log must still hold the
 * output after the snapshot's offset when it is answered, so the shell may not run on meanwhile.
 */
function report(): void {
  reportSoon = false;
  for (const id of unreported) {
    const m = mirrors.get(id);
    if (!m) continue;
    const keeping = m.snapshots.length === 0 && m.held.bytes + m.inFlight.bytes <= HOLD_BYTES;
    const taken = keeping ? m.received : m.parsed;
    if (taken <= m.reported) continue;
    m.reported = taken;
    post({ op: 'parsed', id, bytes: taken });
  }
  unreported.clear();
}

function changed(id: number): void {
  unreported.add(id);
  if (!reportSoon) { reportSoon = true; setImmediate(report); }
}

/**
 * Hands everything pending to xterm.js as one write; `then` runs once it is parsed, before anything
 * written later (xterm.js parses its writes in order and later, while a resize acts at once).
 */
function parsePending(id: number, m: Mirror, then?: () => void): void {
  const data = m.pending.length === 1 ? m.pending[0]! : joinBytes(m.pending);
  const { covers } = m.held;
  m.pending = [];
  m.held = { bytes: 0, covers: 0 };
  m.inFlight.bytes += data.byteLength;
  m.inFlight.covers += covers;
  m.term.write(data, () => {
    m.inFlight.bytes -= data.byteLength;
    m.inFlight.covers -= covers;
    m.parsed += covers;
    if (mirrors.get(id) !== m) return;
    then?.();
    changed(id);
    take(id, m, false);
  });
}

/**
 * Deals with what a mirror keeps, when nothing is in flight (only then is the terminal's state the
 * state after everything before what is kept, which cutting relies on): makes the snapshots that
 * are due, cuts a plain flood down to what stays on screen and in scrollback, and parses what is
 * kept when `now`, when a snapshot waits for it, or when it is still too much to keep.
 */
function take(id: number, m: Mirror, now: boolean): void {
  if (m.inFlight.covers > 0) return;
  if (m.snapshots.length && m.parsed >= m.snapshotAt) snapshotNow(id, m);
  if (m.held.bytes === 0) return;
  now ||= m.snapshots.length > 0;
  if (now || m.held.bytes >= HOLD_BYTES) {
    const { write, skipped } = fastForward(joinBytes(m.pending), skipState(m.term as never), m.scrollback);
    m.pending = [write];
    m.held.bytes = write.byteLength;
    now ||= skipped === 0 || m.held.bytes >= HOLD_BYTES / 2;
  }
  if (now) parsePending(id, m);
  else quietSoon();
}

function snapshotNow(id: number, m: Mirror): void {
  const data = m.serializer.serialize({ scrollback: m.scrollback });
  for (const request of m.snapshots.splice(0)) post({ op: 'snapshot', id, request, data, bytes: m.parsed });
}

/** Parses what each mirror keeps once its output has paused for QUIET_MS (one timer for all). */
function quietSoon(): void {
  quietTimer ??= setTimeout(() => {
    quietTimer = undefined;
    const now = performance.now();
    let waiting = false;
    for (const [id, m] of mirrors) {
      if (m.held.bytes === 0) continue;
      if (now - m.lastWrite >= QUIET_MS) take(id, m, true);
      else waiting = true;
    }
    if (waiting) quietSoon();
  }, QUIET_MS);
}

function handle(msg: ToMirror): void {
  if (msg.op === 'open') {
    const term = new Terminal({ cols: msg.cols, rows: msg.rows, scrollback: msg.scrollback, allowProposedApi: true });
    const serializer = new SerializeAddon();
    term.loadAddon(serializer as never);
    mirrors.set(msg.id, {
      term, serializer, scrollback: msg.scrollback, received: 0, parsed: 0, reported: 0,
      inFlight: { bytes: 0, covers: 0 }, pending: [], held: { bytes: 0, covers: 0 }, lastWrite: 0, snapshots: [], snapshotAt: 0,
    });
    return;
  }
  const m = mirrors.get(msg.id);
  if (!m) return;
  switch (msg.op) {
    case 'write':
      m.received += msg.data.byteLength;
      m.pending.push(msg.data);
      m.held.bytes += msg.data.byteLength;
      m.held.covers += msg.data.byteLength;
      m.lastWrite = performance.now();
      // Output with escape sequences in it (colours, a full-screen program) will not cut: holding
      // it only costs memory and garbage collection, so it is parsed as it comes, as it always was.
      take(msg.id, m, msg.data.includes(ESC));
      changed(msg.id);
      break;
    case 'resize':
    {
      // What came before the resize is parsed at the old size, and what comes after at the new.
      const { cols, rows } = msg;
      if (m.held.covers === 0 && m.inFlight.covers === 0) m.term.resize(cols, rows);
      else parsePending(msg.id, m, () => m.term.resize(cols, rows));
      break;
    }
    case 'snapshot':
      m.snapshots.push(msg.request);
      m.snapshotAt = m.received;
      take(msg.id, m, false);
      break;
    case 'close':
      m.term.dispose();
      mirrors.delete(msg.id);
      unreported.delete(msg.id);
      break;
  }
}

// This thread only (Linux keeps a nice value per thread): when the machine is busy, parsing a
// flood for the mirror waits for the event loop, the engine and the shells that learners wait on.
// What it keeps unparsed is bounded (HOLD_BYTES); past that the server's flow control holds the
// shell back (TerminalStream lets a mirror lag up to half its output log).
try { setPriority(MIRROR_NICE); } catch { /* not allowed here: runs at the server's priority */ }

parentPort!.on('message', (batch: ToMirror[]) => batch.forEach(handle));
