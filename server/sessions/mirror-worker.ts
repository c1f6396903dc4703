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
  /** Bytes parsed since open; xterm parses each write whole, so a snapshot matches this count. */
  parsed: number;
  /** Writes handed to xterm.js and not parsed yet. */
  inFlight: number;
  /**
   * What arrived while xterm.js was parsing: written as one when it is done, after skipping what
   * scrolls out unseen (protocol/fast-forward.ts). A mirror that keeps up skips nothing.
   */
  pending: Uint8Array[];
}

/** The nice value of this thread: 10 gives it about a tenth of a core that is wanted elsewhere. */
const MIRROR_NICE = 10;

const mirrors = new Map<number, Mirror>();
/** Parse progress not yet reported: one message per mirror per turn, not one per write. */
const unreported = new Set<number>();
let reportSoon = false;

function post(msg: FromMirror): void { parentPort!.postMessage(msg); }

function report(): void {
  reportSoon = false;
  for (const id of unreported) {
    const m = mirrors.get(id);
    if (m) post({ op: 'parsed', id, bytes: m.parsed });
  }
  unreported.clear();
}

/** Hands what waits to xterm.js as one write, fast-forwarded when the terminal's state allows. */
function writePending(id: number, m: Mirror): void {
  const data = m.pending.length === 1 ? m.pending[0]! : joinBytes(m.pending);
  m.pending = [];
  const size = data.byteLength;
  // Only with nothing in flight is the terminal's state the state after everything before `data`.
  const write = m.inFlight === 0 ? fastForward(data, skipState(m.term as never), m.scrollback).write : data;
  m.inFlight++;
  m.term.write(write, () => {
    m.inFlight--;
    m.parsed += size;
    unreported.add(id);
    if (!reportSoon) { reportSoon = true; setImmediate(report); }
    if (m.inFlight === 0 && m.pending.length && mirrors.get(id) === m) writePending(id, m);
  });
}

function handle(msg: ToMirror): void {
  if (msg.op === 'open') {
    const term = new Terminal({ cols: msg.cols, rows: msg.rows, scrollback: msg.scrollback, allowProposedApi: true });
    const serializer = new SerializeAddon();
    term.loadAddon(serializer as never);
    mirrors.set(msg.id, { term, serializer, scrollback: msg.scrollback, parsed: 0, inFlight: 0, pending: [] });
    return;
  }
  const m = mirrors.get(msg.id);
  if (!m) return;
  switch (msg.op) {
    case 'write':
      m.pending.push(msg.data);
      if (m.inFlight === 0) writePending(msg.id, m);
      break;
    case 'resize':
      // What came before the resize is parsed at the old size (queued in xterm.js before it).
      if (m.pending.length) writePending(msg.id, m);
      m.term.resize(msg.cols, msg.rows);
      break;
    case 'snapshot':
      post({ op: 'snapshot', id: msg.id, request: msg.request, data: m.serializer.serialize({ scrollback: m.scrollback }), bytes: m.parsed });
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
// The mirror may lag (TerminalStream lets it, up to half its output log), and catches up when idle.
try { setPriority(MIRROR_NICE); } catch { /* not allowed here: runs at the server's priority */ }

parentPort!.on('message', (batch: ToMirror[]) => batch.forEach(handle));
