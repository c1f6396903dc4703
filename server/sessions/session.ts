// A learner's session: one lab, one box, its terminals. Ending it destroys the box.
import type { ExitReason } from '../../protocol/messages.js';
import type { SessionInfo } from '../../protocol/api.js';
import type { Lab } from '../labs/catalog.js';
import type { BoxHandle, SandboxDriver } from './sandbox-driver.js';
import { TerminalStream } from './terminal-stream.js';

export const TERMINAL_IDS = ['main'] as const;

export class Session {
  readonly createdAt = Date.now();
  readonly expiresAt: number;
  private lastActivity = Date.now();
  private readonly terminals = new Map<string, TerminalStream>();
  private readonly endListeners = new Set<(reason: ExitReason) => void>();
  private ended: ExitReason | undefined;
  /** Connections attached now; a session with none for the idle timeout ends. */
  attachedClients = 0;

  constructor(
    readonly id: string,
    readonly token: string,
    readonly lab: Lab,
    readonly box: BoxHandle,
    private readonly driver: SandboxDriver,
    readonly idleTimeoutMs: number,
    maxLifetimeMs: number,
  ) {
    this.expiresAt = this.createdAt + maxLifetimeMs;
  }

  get endReason(): ExitReason | undefined { return this.ended; }
  get idleForMs(): number { return Date.now() - this.lastActivity; }

  touch(): void { this.lastActivity = Date.now(); }

  hasTerminal(id: string): boolean { return (TERMINAL_IDS as readonly string[]).includes(id); }

  /** The terminal with this id, its shell started on first use at the first client's size. */
  terminal(id: string, size: { cols: number; rows: number }): TerminalStream {
    let stream = this.terminals.get(id);
    if (!stream) {
      stream = new TerminalStream({ argv: this.driver.shellArgv(this.box), ...size, respawn: true });
      stream.onExit(() => void this.onShellGone());
      this.terminals.set(id, stream);
    }
    return stream;
  }

  existingTerminals(): TerminalStream[] { return [...this.terminals.values()]; }

  onEnd(listener: (reason: ExitReason) => void): () => void {
    this.endListeners.add(listener);
    return () => this.endListeners.delete(listener);
  }

  info(): SessionInfo {
    return {
      id: this.id, token: this.token, lab: this.lab.id, profile: this.box.profile, terminals: [...TERMINAL_IDS],
      createdAt: this.createdAt, expiresAt: this.expiresAt, idleTimeoutMs: this.idleTimeoutMs,
    };
  }

  /** Tells attached clients why, closes the shells and destroys the box. Safe to call twice. */
  async end(reason: ExitReason): Promise<void> {
    if (this.ended) return;
    this.ended = reason;
    for (const listener of this.endListeners) listener(reason);
    this.endListeners.clear();
    for (const stream of this.terminals.values()) stream.dispose();
    this.terminals.clear();
    await this.driver.destroy(this.box);
  }

  private async onShellGone(): Promise<void> {
    // The shell keeps dying at once: the box itself is broken (out of memory, killed).
    await this.end('box-failed');
  }
}
