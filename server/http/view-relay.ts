// A view of a terminal that another replica serves (an instructor's dashboard on one replica, the
// learner's session on another): this replica opens the same view there, with the same hello (its
// signed ticket is redeemed by that replica, view-tickets.ts), and passes frames both ways
// untouched. The replica serving the terminal keeps every rule (read-only unless handed control,
// a view that falls behind is dropped); this one only adds its own bound: a dashboard that does
// not read is dropped here too, so it never grows this replica's memory.
import WebSocket, { type RawData } from 'ws';
import { WS_PATH } from '../../protocol/api.js';
import { CLOSE } from '../../protocol/messages.js';
import { VIEWER_QUEUE_BYTES } from '../sessions/terminal-viewer.js';

export interface ViewRelay {
  /** A frame from the viewer's page, for the replica serving the terminal. */
  forward(data: RawData, isBinary: boolean): void;
  close(): void;
}

/**
 * Opens the view on the replica at `address` (its lease's) and pipes `client` to it. `hello` is
 * the viewer's hello as it came. `onEnd` runs once, when either side closed.
 */
export function relayView(client: WebSocket, address: string, hello: string, onEnd: () => void): ViewRelay {
  // Host: localhost is always one the other replica answers to (host-check.ts), whatever its address.
  const upstream = new WebSocket(`${address.replace(/^http/, 'ws')}${WS_PATH}`, { headers: { host: 'localhost' }, maxPayload: 4 * 1024 * 1024 });
  const early: Array<{ data: RawData; isBinary: boolean }> = [];
  let ended = false;
  const end = (code: number, reason: string): void => {
    if (ended) return;
    ended = true;
    if (client.readyState === WebSocket.OPEN) client.close(code, reason);
    upstream.terminate();
    onEnd();
  };
  upstream.on('open', () => {
    upstream.send(hello);
    for (const f of early.splice(0)) upstream.send(f.data, { binary: f.isBinary });
  });
  upstream.on('message', (data, isBinary) => {
    if (client.bufferedAmount > VIEWER_QUEUE_BYTES) return end(CLOSE.tooSlow, 'this view fell behind (relayed)');
    client.send(data, { binary: isBinary });
  });
  // The serving replica's close code (too slow, session ended, bad ticket...) is the page's to read.
  upstream.on('close', (code, reason) => end(code >= 4000 ? code : CLOSE.serverStopping, reason.toString() || 'the replica serving this terminal went away'));
  upstream.on('error', () => end(CLOSE.serverStopping, 'the replica serving this terminal could not be reached'));
  return {
    forward(data, isBinary) {
      if (upstream.readyState === WebSocket.OPEN) upstream.send(data, { binary: isBinary });
      else if (upstream.readyState === WebSocket.CONNECTING && early.length < 64) early.push({ data, isBinary });
    },
    close: () => end(1000, 'view closed'),
  };
}
