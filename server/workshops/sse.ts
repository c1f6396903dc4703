// Serves a workshop's events as Server-Sent Events: `id: <seq>` on each, Last-Event-ID to resume,
// a fresh `state` first when there is nothing to resume from. A dashboard that stops reading is
// dropped (its EventSource reconnects and catches up) instead of growing the server's memory.
import type { Request, Response } from 'express';
import type { WorkshopEvent } from '../../protocol/workshops.js';
import type { EventLog } from './event-log.js';
import type { StoredEvent } from './workshop-store.js';

/** Unsent bytes a dashboard may hold up before it is dropped. */
const MAX_BUFFERED = 1 << 20;
/** A comment line this often keeps proxies from closing a quiet stream. */
const HEARTBEAT_MS = 15_000;

function lastEventId(req: Request): number | undefined {
  const raw = req.get('last-event-id') ?? (typeof req.query.lastEventId === 'string' ? req.query.lastEventId : undefined);
  return raw !== undefined && /^\d{1,15}$/.test(raw) ? Number(raw) : undefined;
}

export function serveEvents(req: Request, res: Response, opts: {
  workshop: string; log: EventLog; state: () => Promise<WorkshopEvent>; delivered?: (e: StoredEvent) => void;
}): void {
  res.status(200).set({
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    // nginx buffers responses unless told not to.
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  const write = (seq: number, event: WorkshopEvent): void => {
    if (res.writableLength > MAX_BUFFERED) return void res.destroy();
    res.write(`id: ${seq}\ndata: ${JSON.stringify(event)}\n\n`);
  };
  let stop: (() => void) | undefined;
  let closed = false;
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
  const close = (): void => {
    closed = true;
    clearInterval(heartbeat);
    stop?.();
  };
  // The response's close is the connection's; the request's can come as soon as its (empty) body is read.
  res.on('close', close);
  void opts.log.follow(opts.workshop, lastEventId(req), (e) => {
    write(e.seq, e.event);
    opts.delivered?.(e);
  }, async (start) => {
    const state = start.missed ? undefined : await opts.state();
    if (closed) return;
    // Ask the browser to retry soon after a drop.
    res.write('retry: 1000\n\n');
    if (start.missed) for (const e of start.missed) write(e.seq, e.event);
    else write(start.lastSeq, state!);
  }, {
    // Events this replica never read were pruned: the browser reconnects and starts from a fresh state.
    onLost: () => res.destroy(),
  }).then((off) => {
    stop = off;
    if (closed) off();
  }, () => res.destroy());
}
