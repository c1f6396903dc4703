// The WebSocket door: checks path, Host, Origin and the sockets already open from the address
// before upgrading, refuses oversized frames from their declared length (ws maxPayload), then hands
// each socket to a ClientConnection.
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { WS_PATH } from '../../protocol/api.js';
import { MAX_CLIENT_FRAME_BYTES } from '../../protocol/messages.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { SessionManager } from '../sessions/session-manager.js';
import { ClientConnection } from './client-connection.js';
import { clientIp } from './client-ip.js';
import type { HostCheck } from './host-check.js';

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

function refuse(socket: Duplex, status: number, reason: string, text = reason): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
}

export class WsGateway {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CLIENT_FRAME_BYTES, perMessageDeflate: false });
  readonly connections = new Set<ClientConnection>();
  /** Sockets per client IP, from the accepted upgrade until the TCP connection closes. */
  private readonly perIp = new Map<string, number>();

  constructor(
    private readonly sessions: SessionManager,
    private readonly config: Pick<Config, 'allowedOrigins' | 'trustProxy' | 'socketsPerIp' | 'helloTimeoutMs'>,
    private readonly hosts: HostCheck,
    private readonly log: Logger,
  ) {}

  attach(server: http.Server): void {
    server.on('upgrade', (req, socket, head) => {
      socket.on('error', () => socket.destroy());
      const path = (req.url ?? '').split('?')[0];
      if (path !== WS_PATH) return refuse(socket, 404, 'Not Found');
      if (!this.hosts.upgradeAllowed(req)) {
        this.log.warn({ host: req.headers.host }, 'websocket refused: host not allowed');
        return refuse(socket, 421, 'Misdirected Request', this.hosts.refusal(req.headers.host));
      }
      if (!originAllowed(req, this.config.allowedOrigins)) {
        this.log.warn({ origin: req.headers.origin }, 'websocket refused: origin not allowed');
        return refuse(socket, 403, 'Forbidden', 'Forbidden: page origin not allowed');
      }
      const ip = clientIp(req, this.config.trustProxy);
      const open = this.perIp.get(ip) ?? 0;
      if (open >= this.config.socketsPerIp) {
        this.log.warn({ ip, open }, 'websocket refused: too many sockets from one address');
        return refuse(socket, 429, 'Too Many Requests',
          `${open} terminal connections are already open from your address: close some tabs and reload (operators: TERMLAB_SOCKETS_PER_IP)\n`);
      }
      this.perIp.set(ip, open + 1);
      socket.once('close', () => {
        const left = (this.perIp.get(ip) ?? 1) - 1;
        if (left <= 0) this.perIp.delete(ip);
        else this.perIp.set(ip, left);
      });
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        const conn = new ClientConnection(ws, this.sessions, this.log, this.config.helloTimeoutMs);
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
