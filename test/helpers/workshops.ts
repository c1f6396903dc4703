// Test helpers for workshops: a browser's cookies, the dashboard's event stream, and the calls.
import crypto from 'node:crypto';
import type { CreateWorkshopRequest, CreateWorkshopResponse, WorkshopEvent } from '../../protocol/workshops.js';
import { until } from './lab-server.js';

/** A browser with its own learner cookie (and workshop role cookies once it opens their links). */
export class Browser {
  readonly cookies = new Map<string, string>([['tl_learner', crypto.randomBytes(18).toString('base64url')]]);

  constructor(readonly base: string) {}

  get cookie(): string { return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '); }

  async fetch(path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Response> {
    const res = await fetch(this.base + path, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'), redirect: 'manual',
      headers: { cookie: this.cookie, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const [k, ...v] = pair!.split('=');
      this.cookies.set(k!.trim(), v.join('='));
    }
    return res;
  }

  async json<T>(path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}, status = 200): Promise<T> {
    const res = await this.fetch(path, init);
    const text = await res.text();
    if (res.status !== status) throw new Error(`${init.method ?? 'GET'} ${path}: expected ${status}, got ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Opens an instructor or assistant link as a browser would (the 303 and its cookie). */
  async enter(url: string): Promise<void> {
    const res = await this.fetch(new URL(url).pathname + new URL(url).search);
    if (res.status !== 303) throw new Error(`entering ${url}: ${res.status}`);
  }
}

export async function createWorkshop(b: Browser, req: CreateWorkshopRequest, adminToken?: string): Promise<CreateWorkshopResponse> {
  return b.json<CreateWorkshopResponse>('/api/workshops', { body: req, headers: adminToken ? { authorization: `Bearer ${adminToken}` } : {} }, 201);
}

/** A dashboard's Server-Sent Events stream, parsed. */
export class EventStream {
  /** Each event with when it arrived (performance.now()). */
  readonly events: Array<{ id: number; event: WorkshopEvent; at: number }> = [];
  private readonly abort = new AbortController();
  private done: Promise<void> | undefined;

  static async open(b: Browser, workshop: string, lastEventId?: number): Promise<EventStream> {
    const s = new EventStream();
    const res = await fetch(`${b.base}/api/workshops/${workshop}/events`, {
      headers: { cookie: b.cookie, ...(lastEventId === undefined ? {} : { 'last-event-id': String(lastEventId) }) }, signal: s.abort.signal,
    });
    if (res.status !== 200) throw new Error(`events: ${res.status} ${await res.text()}`);
    s.done = s.read(res.body!);
    return s;
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buf = '';
    try {
      const reader = body.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const id = /^id: (\d+)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (id !== undefined && data !== undefined) this.events.push({ id: Number(id), event: JSON.parse(data) as WorkshopEvent, at: performance.now() });
        }
      }
    } catch { /* aborted */ }
  }

  get lastId(): number { return this.events.at(-1)?.id ?? 0; }

  /** The latest event `find` accepts, polled; `find` also gets the event's arrival time. */
  async waitFor<T>(what: string, find: (e: WorkshopEvent, at: number) => T | undefined, ms = 15_000): Promise<T> {
    return until(what, () => {
      for (let i = this.events.length - 1; i >= 0; i--) {
        const found = find(this.events[i]!.event, this.events[i]!.at);
        if (found) return found;
      }
      return undefined;
    }, ms) as Promise<T>;
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.done;
  }
}
