// Host commands the server runs again and again while learners type (the sweeper's firewall check,
// `btrfs subvolume list`), started from a thread of their own. Starting a process blocks the
// calling thread until the child has exec'd: from the event loop of a busy 2-core machine that was
// 15-22 ms every sweep (profiled with 50 learners typing), and every keystroke in flight waited.
import { Worker } from 'node:worker_threads';

export interface ExecResult { stdout: string; stderr: string }

/** Plain JavaScript, so the thread needs no TypeScript loader. */
const THREAD = `
const { parentPort } = require('node:worker_threads');
const { execFile } = require('node:child_process');
parentPort.on('message', ({ id, file, args, maxBuffer }) => {
  execFile(file, args, { maxBuffer, encoding: 'utf8' }, (err, stdout, stderr) => {
    parentPort.postMessage({ id, stdout, stderr, error: err ? { message: err.message, code: err.code } : undefined });
  });
});`;

interface Reply { id: number; stdout: string; stderr: string; error?: { message: string; code?: string | number } }

let worker: Worker | undefined;
let nextId = 1;
const waiting = new Map<number, { resolve: (r: ExecResult) => void; reject: (e: Error) => void }>();

function thread(): Worker {
  if (worker) return worker;
  const w = new Worker(THREAD, { eval: true, name: 'termlab-exec' });
  w.on('message', (reply: Reply) => {
    const p = waiting.get(reply.id);
    waiting.delete(reply.id);
    if (waiting.size === 0) w.unref();
    if (!p) return;
    if (!reply.error) return p.resolve({ stdout: reply.stdout, stderr: reply.stderr });
    // Shaped as execFile's errors are: callers read stdout, stderr and code from them.
    p.reject(Object.assign(new Error(reply.error.message), { code: reply.error.code, stdout: reply.stdout, stderr: reply.stderr }));
  });
  w.on('exit', () => {
    if (worker === w) worker = undefined;
    for (const p of waiting.values()) p.reject(new Error('the thread running host commands exited'));
    waiting.clear();
  });
  worker = w;
  return w;
}

/** execFile, started off the event loop. Rejects as execFile does (with stdout, stderr, code). */
export function execFileOffLoop(file: string, args: string[], options: { maxBuffer?: number } = {}): Promise<ExecResult> {
  const id = nextId++;
  const w = thread();
  w.ref();
  return new Promise((resolve, reject) => {
    waiting.set(id, { resolve, reject });
    w.postMessage({ id, file, args, maxBuffer: options.maxBuffer ?? 1024 * 1024 });
  });
}
