// Disposables and events, in the shape xterm.js uses (src/common/Lifecycle.ts, EventEmitter.ts):
// whatever owns a resource registers it, and disposing the owner disposes everything it registered.

export interface IDisposable {
  dispose(): void;
}

/** Subscribes a listener; the returned disposable unsubscribes it. */
export type IEvent<T> = (listener: (value: T) => void) => IDisposable;

export function toDisposable(fn: () => void): IDisposable {
  let done = false;
  return {
    dispose() {
      if (done) return;
      done = true;
      fn();
    },
  };
}

/** A set of disposables disposed together. Anything added after disposal is disposed at once. */
export class DisposableStore implements IDisposable {
  private readonly items = new Set<IDisposable>();
  private disposed = false;

  get isDisposed(): boolean {
    return this.disposed;
  }

  add<T extends IDisposable>(item: T): T {
    if (this.disposed) item.dispose();
    else this.items.add(item);
    return item;
  }

  /** Disposes everything added so far; the store stays usable. */
  clear(): void {
    const items = [...this.items];
    this.items.clear();
    for (const item of items.reverse()) item.dispose();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.clear();
  }
}

/** Holds at most one disposable; setting a new value disposes the previous one. */
export class MutableDisposable<T extends IDisposable> implements IDisposable {
  private current: T | undefined;
  private disposed = false;

  get value(): T | undefined {
    return this.current;
  }

  set value(next: T | undefined) {
    if (this.disposed) {
      next?.dispose();
      return;
    }
    if (next === this.current) return;
    this.current?.dispose();
    this.current = next;
  }

  clear(): void {
    this.value = undefined;
  }

  dispose(): void {
    this.clear();
    this.disposed = true;
  }
}

export abstract class Disposable implements IDisposable {
  protected readonly store = new DisposableStore();

  protected get isDisposed(): boolean {
    return this.store.isDisposed;
  }

  protected register<T extends IDisposable>(item: T): T {
    return this.store.add(item);
  }

  dispose(): void {
    this.store.dispose();
  }
}

/** A private emitter behind a public read-only `onSomething` event. */
export class Emitter<T> implements IDisposable {
  private listeners = new Set<(value: T) => void>();

  readonly event: IEvent<T> = (listener) => {
    // Wrap so that the same function can subscribe twice and unsubscribe independently.
    const entry = (value: T): void => listener(value);
    this.listeners.add(entry);
    return toDisposable(() => this.listeners.delete(entry));
  };

  fire(value: T): void {
    for (const listener of [...this.listeners]) listener(value);
  }

  dispose(): void {
    this.listeners.clear();
  }
}

export function addDisposableListener<K extends keyof WindowEventMap>(
  target: Window, type: K, handler: (event: WindowEventMap[K]) => void, options?: AddEventListenerOptions): IDisposable;
export function addDisposableListener<K extends keyof DocumentEventMap>(
  target: Document, type: K, handler: (event: DocumentEventMap[K]) => void, options?: AddEventListenerOptions): IDisposable;
export function addDisposableListener<K extends keyof WebSocketEventMap>(
  target: WebSocket, type: K, handler: (event: WebSocketEventMap[K]) => void, options?: AddEventListenerOptions): IDisposable;
export function addDisposableListener<K extends keyof HTMLElementEventMap>(
  target: HTMLElement, type: K, handler: (event: HTMLElementEventMap[K]) => void, options?: AddEventListenerOptions): IDisposable;
export function addDisposableListener(
  target: EventTarget, type: string, handler: (event: Event) => void, options?: AddEventListenerOptions): IDisposable {
  target.addEventListener(type, handler, options);
  return toDisposable(() => target.removeEventListener(type, handler, options));
}

export function disposableTimeout(fn: () => void, ms: number): IDisposable {
  const id = setTimeout(fn, ms);
  return toDisposable(() => clearTimeout(id));
}

export function disposableInterval(fn: () => void, ms: number): IDisposable {
  const id = setInterval(fn, ms);
  return toDisposable(() => clearInterval(id));
}
