// What the rest of the server needs from the sandbox layer, and all it may use of it: boxes, their
// shells, scripts run in them, their ports and disks. server/sandbox/driver.ts implements it on
// Docker; nothing above it knows which engine is in use (a Kubernetes backend is the next one).
import type { Duplex } from 'node:stream';
import type { SandboxProfile } from '../../protocol/api.js';

export interface BoxHandle {
  id: string;
  session: string;
  profile: SandboxProfile;
}

export interface BoxRequest {
  session: string;
  profile: SandboxProfile;
  hostname: string;
  internet: boolean;
}

export interface ScriptResult {
  exitCode: number;
  /** stdout then stderr, trimmed. */
  output: string;
  timedOut: boolean;
}

/** An interactive shell in a box, on a terminal: what a terminal stream reads, writes, resizes and holds back. */
export interface BoxShell {
  /** The local process holding the shell's end, when there is one (the bench reads its memory). */
  readonly pid?: number;
  /** Output as the terminal wrote it. */
  onData(listener: (data: Buffer) => void): void;
  /** The shell ended (the learner typed `exit`, or the box went). */
  onExit(listener: (exitCode: number) => void): void;
  write(data: string): void;
  resize(cols: number, rows: number): void;
  /** Stops reading the shell's output (flow control: the shell then blocks on a full terminal), and reads it again. */
  pause(): void;
  resume(): void;
  /** Input written that the shell has not taken yet, in bytes (bounded by the caller). */
  readonly pendingInput: number;
  kill(): void;
}

/**
 * The exit code a BoxShell reports when its shell was not ended but attached to by another server
 * (which adopted the session): the stream must neither restart it nor end the session's boxes.
 */
export const SHELL_TAKEN = -15;

export interface SandboxDriver {
  /**
   * Where this driver's boxes live (one Docker engine, one cluster): servers whose drivers say the
   * same can reach each other's boxes, so one may carry on another's session or pre-started box.
   */
  readonly place: string;
  create(request: BoxRequest): Promise<BoxHandle>;
  destroy(box: BoxHandle): Promise<void>;
  /**
   * Opens an interactive login shell in the box on a terminal of this size. `terminal` numbers the
   * lab's terminal: a backend whose shells outlive their stream (Kubernetes, dtach) re-attaches the
   * same number to the same shell, from any server. Handles are plain data (session-records.ts keeps them).
   */
  openShell(box: BoxHandle, size: { cols: number; rows: number }, terminal?: number): BoxShell;
  /** Why boxes of this profile cannot be made now (engine without remapping, firewall missing), or undefined. */
  available(profile: SandboxProfile): string | undefined;
  /**
   * Removes every box, network and volume this server's instance made, but those of the replicas
   * in `spare` (live servers sharing the instance; every box carries its maker's config.replica):
   * at start what a crashed run left, now and then what a crashed replica left, at stop what remains.
   * The sessions in `spareSessions` stay whoever made them: a live replica adopted them (session-records.ts).
   */
  removeLeftovers(spare?: ReadonlySet<string>, spareSessions?: ReadonlySet<string>): Promise<void>;
  /** Re-checks what isolates boxes from the host and each other (the sweeper calls it); restores it if it can. */
  checkIsolation(): Promise<void>;
  /** The engine caps each box's disk itself; else the sweeper polls writableBytes against diskQuotaBytes. */
  readonly enforcesDisk: boolean;
  /**
   * Bytes the box has used of its disk quota, outside its bounded mounts: as the kernel counts
   * them when the engine caps disks (deleted-but-open files included, up to a commit behind),
   * else as the engine's size walk sees them (deleted-but-open files not seen).
   */
  writableBytes(box: BoxHandle): Promise<number>;
  diskQuotaBytes(profile: SandboxProfile): number;
  /** Runs a bash script in the box out of band (no terminal), as root: checks, setups, solutions. */
  runScript(box: BoxHandle, script: string, timeoutMs: number): Promise<ScriptResult>;
  /**
   * A connection to a TCP port of the box (the port proxy's upstream), connecting as it is returned:
   * a failure comes as the stream's `error` (ECONNREFUSED when nothing listens).
   */
  dial(box: BoxHandle, port: number): Duplex;
}
