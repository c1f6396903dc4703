// A terminal on a pod: a TTY exec through the API server, attached to a login shell that lives in a
// dtach master inside the pod. The shell therefore outlives the exec stream: another openShell on
// the same box (a reconnect, a restarted gateway) attaches to the same bash, cwd, variables and jobs
// (study §5). dtach is byte-transparent, so the output log, replay and recordings stay exact.
//
// Kubernetes never kills an exec's process when its client goes, so each attach client runs under
// a name unique to its slot (`exec -a tl-attach-<slot>-<token>`) and every attach first kills the
// older clients of its slot: no stale client piles up.
import { randomBytes } from 'node:crypto';
import { PassThrough, Writable } from 'node:stream';
import type { Exec, V1Status } from '@kubernetes/client-node';
import type WebSocket from 'ws';
import { SHELL_TAKEN, type BoxShell } from '../sandbox-driver.js';
import { CONTAINER } from './manifests.js';
import { execOk, exitCodeOf, type PodRef } from './exec.js';

/** Where the masters' sockets live in the pod; /run is the container's own. */
const SOCKET_DIR = '/run/termlab';

export function socketPath(slot: number): string {
  return `${SOCKET_DIR}/shell-${slot}.sock`;
}

/**
 * The master for this slot, made when missing (`-n`: start detached; `-z`: Ctrl-Z reaches the
 * shell), and no older attach client of it. Prints `new` or `old`. One no-TTY exec, ~60 ms.
 *
 * An old shell's terminal is first set to 1x1, while nobody is attached: readline (and vim, less)
 * redraw on SIGWINCH only when the size changed, so the attach's real size then always redraws.
 */
export function prepareScript(slot: number): string {
  const sock = socketPath(slot);
  const shrink = `m=$(pgrep -f '^dtach -n ${sock} ') && s=$(pgrep -P "$m" | head -1) && stty -F "$(readlink /proc/$s/fd/0)" rows 1 cols 1`;
  return `mkdir -p ${SOCKET_DIR} && { pkill -USR1 -f '^tl-attach-${slot}-' || true; } && ` +
    `if [ -S ${sock} ]; then { ${shrink} || true; }; echo old; else dtach -n ${sock} -z bash -l && echo new; fi`;
}

/**
 * The attach client: `-E` no detach key (every byte is the learner's). The shell redraws on attach:
 * a new one on Ctrl-L (its first prompt went to nobody, and a SIGWINCH that comes while bash still
 * reads its profile redraws nothing; the Ctrl-L waits in the tty until readline reads it), an old
 * one on SIGWINCH (full-screen programs repaint too, and the line being typed is kept).
 */
export function attachArgv(slot: number, token: string, fresh: boolean): string[] {
  return ['bash', '-c', `exec -a tl-attach-${slot}-${token} dtach -a ${socketPath(slot)} -E -z -r ${fresh ? 'ctrl_l' : 'winch'}`];
}

/**
 * How an attach client displaced by a newer one ends: prepareScript kills it with SIGUSR1, which
 * dtach does not handle (its TERM and HUP handlers exit 1, as some of its errors do), so the exec
 * reports 128 + 10 and nothing else does.
 */
const DISPLACED_EXIT = 128 + 10;

/** What dtach writes first on every attach (it assumes a VT100): a cleared screen would wipe what the learner's terminal still shows. */
const DTACH_CLEAR = Buffer.from('\x1b[H\x1b[J');

/** What client-node reads the terminal size from (rows/columns and a 'resize' event), and where output lands. */
class TerminalSink extends Writable {
  columns: number;
  rows: number;
  constructor(size: { cols: number; rows: number }, private readonly deliver: (data: Buffer) => void) {
    super();
    this.columns = size.cols;
    this.rows = size.rows;
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.deliver(chunk);
    done();
  }
  setSize(cols: number, rows: number): void {
    this.columns = cols;
    this.rows = rows;
    this.emit('resize');
  }
}

/**
 * Opens the terminal at once and connects behind it: input written before the stream is open is
 * held (and counted in pendingInput), a resize before it is sent as the first size.
 * `releaseSlot` frees the slot when the terminal goes (killed, or its shell exited).
 */
export function dtachShell(exec: Exec, ref: PodRef, slot: number, size: { cols: number; rows: number }, releaseSlot: () => void): BoxShell {
  const dataListeners: Array<(data: Buffer) => void> = [];
  const exitListeners: Array<(code: number) => void> = [];
  const stdin = new PassThrough();
  let first = true;
  const sink = new TerminalSink(size, (data) => {
    if (first) {
      first = false;
      if (data.subarray(0, DTACH_CLEAR.length).equals(DTACH_CLEAR)) data = data.subarray(DTACH_CLEAR.length);
      if (data.length === 0) return;
    }
    for (const l of dataListeners) l(data);
  });
  let ws: WebSocket | undefined;
  let paused = false;
  let killed = false;
  let exited = false;
  let released = false;
  const release = (): void => { if (!released) { released = true; releaseSlot(); } };
  const finish = (code: number): void => {
    if (exited) return;
    exited = true;
    release();
    for (const l of exitListeners) l(code);
  };

  void (async () => {
    const fresh = (await execOk(exec, ref, ['bash', '-c', prepareScript(slot)])).trim() === 'new';
    if (killed) return;
    let status: V1Status | undefined;
    const socket = (await exec.exec(ref.namespace, ref.pod, CONTAINER, attachArgv(slot, randomBytes(4).toString('hex'), fresh),
      sink, null, stdin, true, (s) => { status = s; })) as unknown as WebSocket;
    ws = socket;
    if (killed) { socket.terminate(); return; }
    if (paused) socket.pause();
    // Success when the shell exited (`exit`: the master ends, so does its client); -1 when the stream
    // broke; DISPLACED_EXIT when another attach of this slot killed this client (prepareScript):
    // another server adopted the session, and the shell is its now.
    socket.once('close', () => finish(exitCodeOf(status) === DISPLACED_EXIT ? SHELL_TAKEN : exitCodeOf(status)));
    socket.once('error', () => { /* 'close' follows */ });
  })().catch(() => finish(-1));

  return {
    onData: (listener) => { dataListeners.push(listener); },
    onExit: (listener) => { exitListeners.push(listener); },
    write: (data) => { if (!exited) stdin.write(data); },
    resize: (cols, rows) => sink.setSize(cols, rows),
    // The WebSocket stops being read: TCP backpressure reaches the apiserver, the kubelet and the
    // pty, and the shell blocks on a full terminal (study §3: 0 bytes in 2 s of pause).
    pause: () => { paused = true; ws?.pause(); },
    resume: () => { paused = false; ws?.resume(); },
    // Held before the stream opened, plus what the socket has not handed to the kernel yet.
    get pendingInput() { return stdin.writableLength + stdin.readableLength + (ws?.bufferedAmount ?? 0); },
    // Detaches only: the shell stays in its master for the next attach; the box's end takes it.
    // The slot is free at once, so an openShell right after this one re-attaches to the same shell.
    kill: () => {
      if (killed) return;
      killed = true;
      release();
      ws?.terminate();
      if (!ws) finish(-1);
    },
  };
}
