// The threads the screen mirrors run on (mirror-worker.ts). The server has one event loop for
// every learner's keystrokes; a flood's parsing (50 MiB/s of a core at best), a resize's reflow of
// 5000 lines of scrollback, and the garbage both leave for the collector held it for milliseconds
// at a time. Here they run beside it, on as many threads as the machine spares.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { joinBytes } from '../../protocol/messages.js';
import type { FromMirror, ToMirror } from './mirror-worker.js';

/** What a mirror hears from its thread. */
export interface MirrorPeer {
  parsedUpTo(bytes: number): void;
  snapshotReady(request: number, data: string, bytes: number): void;
  /** The thread died (a bug in the parser, say): the mirror starts over, empty. */
  lost(): void;
}

/** A message waiting to go: output waits as the chunks it came in, joined when it goes. */
type Queued = Exclude<ToMirror, { op: 'write' }> | { op: 'write'; id: number; parts: Uint8Array[] };

/** How long messages to a mirror thread gather before they go, as one (ms). */
const FLUSH_EVERY_MS = 5;

class MirrorWorker {
  private worker: Worker | undefined;
  readonly peers = new Map<number, MirrorPeer>();
  /** Mirrors someone waits on: the thread keeps the process alive only while there are. */
  private holds = 0;

  /** Messages gathered over FLUSH_EVERY_MS, sent as one (see send). */
  private outbox: Queued[] = [];
  private stopped = false;

  /**
   * Queues a message; the queue goes FLUSH_EVERY_MS later, so the output of all the terminals that
   * printed meanwhile costs one message and one wake-up of the thread, not one each (each cost the
   * event loop 20-50 µs: with 50 learners typing, or a flood read a few KiB at a time, that was
   * 5% of a core). A mirror may lag; a keystroke's echo never waits for it.
   */
  send(msg: Queued): void {
    if (this.stopped) return;
    if (this.outbox.length === 0) setTimeout(() => this.flush(), FLUSH_EVERY_MS);
    this.outbox.push(msg);
  }

  /**
   * Queues output for a mirror. Consecutive writes to one mirror become one, copied once into a
   * buffer of its own at the flush and moved (transferred) to the thread, not copied again.
   */
  write(id: number, chunk: Uint8Array): void {
    const last = this.outbox.at(-1);
    if (last?.op === 'write' && last.id === id) last.parts.push(chunk);
    else this.send({ op: 'write', id, parts: [chunk] });
  }

  private flush(): void {
    if (this.stopped) return;
    const queued = this.outbox;
    this.outbox = [];
    if (queued.length === 0) return;
    const transfers: ArrayBuffer[] = [];
    const batch = queued.map((msg): ToMirror => {
      if (msg.op !== 'write') return msg;
      // Joined into our own ArrayBuffer: a pty read's Buffer may be a slice of a shared pool, which must not move.
      const data = joinBytes(msg.parts);
      transfers.push(data.buffer as ArrayBuffer);
      return { op: 'write', id: msg.id, data };
    });
    this.start().postMessage(batch, transfers);
  }

  hold(): void { if (this.holds++ === 0) this.worker?.ref(); }
  release(): void { if (--this.holds === 0) this.worker?.unref(); }

  private start(): Worker {
    if (this.worker) return this.worker;
    // The server runs its TypeScript through tsx, which a worker does not inherit: the thread
    // registers it before loading its module (a compiled .js module would load as it is).
    const url = new URL('./mirror-worker' + (import.meta.url.endsWith('.ts') ? '.ts' : '.js'), import.meta.url).href;
    const boot = url.endsWith('.ts')
      ? `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(url)}); })`
      : `import(${JSON.stringify(url)})`;
    const worker = new Worker(boot, { eval: true, name: 'termlab-mirror' });
    worker.on('message', (msg: FromMirror) => {
      const peer = this.peers.get(msg.id);
      if (msg.op === 'parsed') peer?.parsedUpTo(msg.bytes);
      else peer?.snapshotReady(msg.request, msg.data, msg.bytes);
    });
    worker.on('error', (err) => console.error(`termlab: a screen mirror thread failed, its terminals' mirrors start over: ${err.stack ?? err}`));
    worker.on('exit', () => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.holds = 0;
      const lost = [...this.peers.values()];
      this.peers.clear();
      for (const peer of lost) peer.lost();
    });
    // After the listeners: adding a 'message' listener refs the worker's port again.
    if (this.holds === 0) worker.unref();
    this.worker = worker;
    return worker;
  }

  /** For good: a stopped thread is not started again. */
  async stop(): Promise<void> {
    this.stopped = true;
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}

/** Threads for mirrors; each new mirror goes to the thread with the fewest. */
export class MirrorThreads {
  private readonly workers: MirrorWorker[];
  private nextId = 1;

  constructor(threads: number) {
    this.workers = Array.from({ length: Math.max(1, threads) }, () => new MirrorWorker());
  }

  /** Opens a mirror of that size on a thread; the returned channel sends its messages there. */
  open(peer: MirrorPeer, cols: number, rows: number, scrollback: number): MirrorChannel {
    const worker = this.workers.reduce((a, b) => (b.peers.size < a.peers.size ? b : a));
    const id = this.nextId++;
    worker.peers.set(id, peer);
    worker.send({ op: 'open', id, cols, rows, scrollback });
    return new MirrorChannel(id, worker);
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.stop()));
  }
}

export class MirrorChannel {
  constructor(readonly id: number, private readonly worker: MirrorWorker) {}

  /** `chunk` must not change afterwards (it is copied at the end of this turn). */
  write(chunk: Uint8Array): void { this.worker.write(this.id, chunk); }

  resize(cols: number, rows: number): void { this.worker.send({ op: 'resize', id: this.id, cols, rows }); }

  snapshot(request: number): void { this.worker.send({ op: 'snapshot', id: this.id, request }); }

  /** Someone waits on this mirror (a snapshot, a drain): the process stays up until release(). */
  hold(): void { this.worker.hold(); }
  release(): void { this.worker.release(); }

  close(): void {
    this.worker.peers.delete(this.id);
    this.worker.send({ op: 'close', id: this.id });
  }
}

/** Threads the process's mirrors share: all but one of the cores, up to four. */
let shared: MirrorThreads | undefined;
export function mirrorThreads(): MirrorThreads {
  shared ??= new MirrorThreads(Math.min(4, availableParallelism() - 1));
  return shared;
}
