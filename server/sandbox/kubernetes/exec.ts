// Exec into a pod through the API server (WebSocket, v5.channel.k8s.io), in-process: no kubectl
// per terminal (study §3: 0.03 MiB per idle terminal against 25 MiB per `docker exec` client).
// Two shapes: a command whose output is collected (checks, set-up), and a raw stream (terminals).
import { PassThrough, Writable } from 'node:stream';
import { Exec, type KubeConfig, type V1Status } from '@kubernetes/client-node';
// Not re-exported by the package's index; the package has no "exports" map, so the file is reachable.
import { WebSocketHandler } from '@kubernetes/client-node/dist/web-socket-handler.js';
import type WebSocket from 'ws';
import { CONTAINER } from './manifests.js';

export interface PodRef { namespace: string; pod: string }

/**
 * An Exec whose WebSocket handler has streams of its own. client-node's default handler, given a
 * v5 close-stream frame, ends the process's stdin/stdout (it closes `process.stdout` by default).
 */
export function makeExec(kc: KubeConfig): Exec {
  const sink = () => new PassThrough();
  return new Exec(kc, new WebSocketHandler(kc, undefined, { stdin: sink(), stdout: sink(), stderr: sink() }));
}

/** The command's exit code from the status channel: Success is 0, NonZeroExitCode carries it; -1 otherwise (it never ran, or the stream broke). */
export function exitCodeOf(status: V1Status | undefined): number {
  if (!status) return -1;
  if (status.status === 'Success') return 0;
  const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  const code = Number(cause?.message);
  return Number.isInteger(code) ? code : -1;
}

/** Bytes kept up to a cap; the rest is counted and dropped (a check printing megabytes must not grow the server). */
class Capped extends Writable {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly max: number) { super(); }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    const room = this.max - this.size;
    if (room > 0) {
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      this.chunks.push(part);
      this.size += part.length;
    }
    done();
  }
  text(): string { return Buffer.concat(this.chunks).toString('utf8'); }
}

export interface Collected { exitCode: number; stdout: string; stderr: string; status?: V1Status; timedOut: boolean }

/**
 * Runs argv in the pod without a TTY and collects its output. `abortAfterMs` closes the stream
 * (the in-pod command is NOT killed by that: Kubernetes never kills an exec's process when its
 * client goes, study §5; callers wrap commands in `timeout`).
 */
export async function execCollect(exec: Exec, ref: PodRef, argv: string[], opts: { maxBytes?: number; abortAfterMs?: number } = {}): Promise<Collected> {
  const stdout = new Capped(opts.maxBytes ?? 1024 * 1024);
  const stderr = new Capped(opts.maxBytes ?? 1024 * 1024);
  let status: V1Status | undefined;
  const ws = (await exec.exec(ref.namespace, ref.pod, CONTAINER, argv, stdout, stderr, null, false, (s) => { status = s; })) as unknown as WebSocket;
  let timedOut = false;
  await new Promise<void>((resolve) => {
    const timer = opts.abortAfterMs === undefined ? undefined : setTimeout(() => { timedOut = true; ws.terminate(); }, opts.abortAfterMs);
    ws.once('close', () => { if (timer) clearTimeout(timer); resolve(); });
    ws.once('error', () => { /* 'close' follows */ });
  });
  return { exitCode: timedOut ? 124 : exitCodeOf(status), stdout: stdout.text(), stderr: stderr.text(), status, timedOut };
}

/** execCollect for commands that must work: their stdout, or an error with what they said. */
export async function execOk(exec: Exec, ref: PodRef, argv: string[]): Promise<string> {
  const r = await execCollect(exec, ref, argv, { abortAfterMs: 30_000 });
  if (r.exitCode !== 0) {
    throw new Error(`exec in ${ref.namespace}/${ref.pod} exited ${r.exitCode}: ${(r.stderr || r.stdout || r.status?.message || '').trim()}`);
  }
  return r.stdout;
}
