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

export interface SandboxDriver {
  create(request: BoxRequest): Promise<BoxHandle>;
  destroy(box: BoxHandle): Promise<void>;
  /** argv that opens an interactive login shell in the box (run under a pty). */
  shellArgv(box: BoxHandle): string[];
  /** Why boxes of this profile cannot be made now (engine without remapping, firewall missing), or undefined. */
  available(profile: SandboxProfile): string | undefined;
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
