// Lit controller owning a TerminalView and its TerminalConnection: acquired once the host has
// rendered and is in the document, released when the host leaves it.
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import type { Terminal } from '@xterm/xterm';
import type { ReadyMessage } from '../../protocol/messages.js';
import { DisposableStore } from '../lifecycle.js';
import { TerminalConnection, type ConnectionStatus, type TerminalConnectionOptions } from './connection.js';
import { TerminalView } from './terminal-view.js';

/** Test hook: the live terminal and its connection, for browser tests (e.g. read term.buffer.active). */
export interface TermlabTestHook {
  term: Terminal;
  connection: TerminalConnection;
}

declare global {
  interface Window {
    /** Test hook set while a terminal is shown; not an API for anything else. */
    __termlab?: TermlabTestHook;
  }
}

export interface TerminalControllerOptions {
  /** Where xterm.js renders (must be in the host's rendered DOM). */
  container(): HTMLElement | null | undefined;
  /** Read when the controller starts; undefined means "not yet" (no token). */
  connection(): TerminalConnectionOptions | undefined;
  onStatus?(status: ConnectionStatus): void;
  onReady?(ready: ReadyMessage): void;
  onResize?(size: { cols: number; rows: number }): void;
  /**
   * Whether this is the terminal on show (default: always). Of several terminals on a page, only
   * the one on show takes the focus when it connects and is the test hook.
   */
  isActive?(): boolean;
}

export class TerminalController implements ReactiveController {
  private readonly resources = new DisposableStore();
  private started = false;
  private testHook: TermlabTestHook | undefined;
  view: TerminalView | undefined;
  connection: TerminalConnection | undefined;

  constructor(private readonly host: ReactiveControllerHost & HTMLElement, private readonly options: TerminalControllerOptions) {
    host.addController(this);
  }

  hostConnected(): void {
    void this.host.updateComplete.then(() => {
      if (this.host.isConnected && !this.started) this.start();
    });
  }

  hostDisconnected(): void {
    this.stop();
  }

  /** Starts over with a new terminal and connection (e.g. for a different token). */
  restart(): void {
    this.stop();
    if (this.host.isConnected) this.start();
  }

  private start(): void {
    const container = this.options.container();
    const connectionOptions = this.options.connection();
    if (!container || !connectionOptions) return;
    this.started = true;
    const view = this.resources.add(new TerminalView(container));
    const connection = this.resources.add(new TerminalConnection(view.term, connectionOptions));
    this.view = view;
    this.connection = connection;
    let focused = false;
    this.resources.add(connection.onStatusChange((status) => {
      this.options.onStatus?.(status);
      if (status.state === 'connected' && !focused && this.isActive()) {
        focused = true;
        view.focus();
      }
    }));
    this.resources.add(connection.onReady((ready) => this.options.onReady?.(ready)));
    this.resources.add(view.term.onResize((size) => this.options.onResize?.(size)));
    this.options.onStatus?.(connection.status);
    this.options.onResize?.({ cols: view.term.cols, rows: view.term.rows });

    const hook: TermlabTestHook = { term: view.term, connection };
    this.testHook = hook;
    if (this.isActive()) window.__termlab = hook;
    this.resources.add({ dispose: () => { if (window.__termlab === hook) delete window.__termlab; } });
  }

  /** Makes this terminal the test hook (window.__termlab), e.g. when its tab is chosen. */
  publishTestHook(): void {
    if (this.testHook) window.__termlab = this.testHook;
  }

  private isActive(): boolean {
    return this.options.isActive?.() ?? true;
  }

  private stop(): void {
    this.started = false;
    this.testHook = undefined;
    this.view = undefined;
    this.connection = undefined;
    this.resources.clear();
  }
}
