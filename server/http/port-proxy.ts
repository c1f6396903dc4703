// Opens a lab host's port in the learner's browser: /p/<session>/<host>/<port>/<path> is proxied to
// that box. Only the browser that started the session gets in: it holds an HttpOnly cookie, scoped
// to /p/<session>/, whose value is the session token.
import http from 'node:http';
import type { Request, Response } from 'express';
import { boxAddress } from '../sandbox/driver.js';
import { readCookie } from './learner.js';
import type { SessionManager } from '../sessions/session-manager.js';
import type { Session } from '../sessions/session.js';

export const PORT_PREFIX = '/p';

export function cookieName(session: string): string { return `tl_${session}`; }

/** Set on session creation, so port links opened in new tabs carry the credential. */
export function portCookie(session: Session): string {
  return `${cookieName(session.id)}=${session.token}; Path=${PORT_PREFIX}/${session.id}/; HttpOnly; SameSite=Strict`;
}

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'cookie', 'host'];

/** Express handler for GET/POST/... /p/:session/:host/:port/* */
export function portProxy(sessions: SessionManager) {
  return (req: Request, res: Response): void => {
    const m = /^\/([^/]+)\/([a-z][a-z0-9-]*)\/(\d{1,5})(\/.*)?$/.exec(req.url);
    if (!m) { res.status(404).type('text').send('A port link looks like /p/<session>/<host>/<port>/'); return; }
    const [, id, host, portText, rest] = m as unknown as [string, string, string, string, string | undefined];
    const token = readCookie(req, cookieName(id));
    const session = token ? sessions.byToken(token) : undefined;
    if (!session || session.id !== id) {
      res.status(403).type('text').send('This lab port belongs to another browser session (or the session ended). Open it from the lab page.');
      return;
    }
    const port = Number(portText);
    const box = session.boxes.get(host);
    if (!box || port < 1 || port > 65535) { res.status(404).type('text').send(`This lab has no host "${host}".`); return; }
    if (!rest) { res.redirect(301, `${PORT_PREFIX}${req.url}/`); return; }
    session.touch();
    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.includes(k)) headers[k] = v;
    const upstream = http.request({ host: boxAddress(box), port, path: rest, method: req.method, headers, timeout: 15_000 }, (answer) => {
      const out: http.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(answer.headers)) if (!HOP_BY_HOP.includes(k) && k !== 'set-cookie') out[k] = v;
      res.writeHead(answer.statusCode ?? 502, out);
      answer.pipe(res);
    });
    upstream.on('timeout', () => upstream.destroy(new Error('timed out')));
    upstream.on('error', (err) => {
      if (res.headersSent) { res.destroy(); return; }
      res.status(502).type('text').send(`Nothing answers on ${host}:${port} in your lab (${(err as NodeJS.ErrnoException).code ?? err.message}). Is the server running and the port published?`);
    });
    req.pipe(upstream);
  };
}
