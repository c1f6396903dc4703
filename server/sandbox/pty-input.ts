// Input into a pty, bounded. node-pty 1.1 queues every write in memory without limit and, while
// the kernel's buffer is full (the shell is not reading: `sleep 600`, or a learner's script
// pasting megabytes), retries the write on every turn of the event loop (setImmediate). One
// terminal could then grow the server's memory and keep its single event loop busy for every
// other session. So: the bytes still queued are measured and new input past a bound is refused
// (TerminalStream tells the learner), and a full kernel buffer is retried on a backing-off timer.
import fs from 'node:fs';
import type pty from 'node-pty';

/** Input queued for the shell beyond this is dropped: a large paste fits, a flood does not. */
export const INPUT_HIGH_WATER = 256 * 1024;
/** Input accepted per second and terminal, sustained: far beyond typing, far below a flood that
 * would keep the engine and the server busy for everyone (bursts up to INPUT_HIGH_WATER). */
export const INPUT_BYTES_PER_SECOND = 64 * 1024;

/** Retry delays after EAGAIN (ms): fast at first (typing into a busy shell), then calm. */
const RETRY_MS = [1, 2, 5, 10, 25, 50];

interface WriteTask { buffer: Buffer; offset: number }
/** The private shape of node-pty 1.1's unix write stream (lib/unixTerminal.js, CustomWriteStream). */
interface NodePtyWriteStream {
  _fd: number;
  _writeQueue: WriteTask[];
  _writeImmediate?: NodeJS.Immediate;
  _processWriteQueue(): void;
  dispose(): void;
}

function writeStreamOf(proc: pty.IPty): NodePtyWriteStream | undefined {
  const ws = (proc as unknown as { _writeStream?: Partial<NodePtyWriteStream> })._writeStream;
  return ws && Array.isArray(ws._writeQueue) && typeof ws._fd === 'number' && typeof ws._processWriteQueue === 'function'
    ? (ws as NodePtyWriteStream) : undefined;
}

/** Bytes written to the pty that the kernel has not taken yet (0 if node-pty's internals differ). */
export function pendingInput(proc: pty.IPty): number {
  const ws = writeStreamOf(proc);
  if (!ws) return 0;
  let n = 0;
  for (const task of ws._writeQueue) n += task.buffer.byteLength - task.offset;
  return n;
}

/**
 * Replaces node-pty's busy retry with a backing-off one. Returns false when node-pty's internals are
 * not what this expects (another version): input is then still bounded by nothing but the rate
 * limit, so the caller logs it.
 */
export function calmWriteRetries(proc: pty.IPty): boolean {
  const ws = writeStreamOf(proc);
  if (!ws) return false;
  let attempt = 0;
  let timer: NodeJS.Timeout | undefined;
  const process = (): void => {
    timer = undefined;
    const task = ws._writeQueue[0];
    if (!task) return;
    fs.write(ws._fd, task.buffer, task.offset, (err, written) => {
      if (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
          timer = setTimeout(process, RETRY_MS[Math.min(attempt++, RETRY_MS.length - 1)]);
        } else {
          ws._writeQueue.length = 0; // the pty is gone: what was queued cannot be delivered
        }
        return;
      }
      attempt = 0;
      task.offset += written;
      if (task.offset >= task.buffer.byteLength) ws._writeQueue.shift();
      process();
    });
  };
  ws._processWriteQueue = () => { if (!timer) process(); };
  const dispose = ws.dispose.bind(ws);
  ws.dispose = () => { if (timer) clearTimeout(timer); timer = undefined; dispose(); };
  return true;
}
