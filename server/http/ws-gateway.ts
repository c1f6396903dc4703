// The WebSocket door: checks path and Origin before upgrading, refuses oversized frames from their
// declared length (ws maxPayload), then hands each socket to a ClientConnection.
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { WS_PATH } from '../../protocol/api.js';
import { MAX_CLIENT_FRAME_BYTES } from '../../protocol/messages.js';
import type { Logger } from '../log.js';
import type { SessionManager } from '../sessions/session-manager.js';
import { ClientConnection } from './client-connection.js';

/** Browsers always send Origin; it must name this server (or a configured origin). Tools without one pass: the token still guards the session. */
export function originAllowed(req: http.IncomingMessage, extra: readonly string[]): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (extra.includes(origin)) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
}

export class WsGateway {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CLIENT_FRAME_BYTES, perMessageDeflate: false });
  readonly connections = new Set<ClientConnection>();

  constructor(private readonly sessions: SessionManager, private readonly allowedOrigins: readonly string[], private readonly log: Logger) {}

  attach(server: http.Server): void {
    server.on('upgrade', (req, socket, head) => {
      socket.on('error', () => socket.destroy());
      const path = (req.url ?? '').split('?')[0];
      if (path !== WS_PATH) return refuse(socket, 404, 'Not Found');
      if (!originAllowed(req, this.allowedOrigins)) {
        this.log.warn({ origin: req.headers.origin }, 'websocket refused: origin not allowed');
        return refuse(socket, 403, 'Forbidden: page origin not allowed');
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        const conn = new ClientConnection(ws, this.sessions, this.log);
        this.connections.add(conn);
        ws.on('close', () => this.connections.delete(conn));
      });
    });
  }

  close(): void {
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
  }
}
