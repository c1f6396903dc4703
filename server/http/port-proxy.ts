// Opens a lab host's port in the learner's browser: /p/<session>/<host>/<port>/<path> is proxied to
// that box. Only the browser that started the session gets in: it holds an HttpOnly cookie, scoped
// to /p/<session>/, whose value is the session token.
//
// What the box serves is the learner's (root in the box) and runs on this app's origin, so every
// answer is made harmless there: a CSP sandbox without allow-same-origin gives the page an opaque
// origin (no cookies, storage or service workers of ours), and headers that would act on the whole
// origin (cookies, service worker scope, HSTS, Clear-Site-Data, CORS, reporting...) are dropped.
//
// A sandboxed page's own requests carry no SameSite cookie (its origin is opaque, so every request
// is cross-site), so the cookie cannot admit its images, scripts and styles. The cookie admits the
// first navigation, which is redirected to /p/<session>.<key>/...: the key, derived from the token,
// is in the path, and relative URLs of the page keep it.
import crypto from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import type { Request, Response } from 'express';
import type { SandboxDriver } from '../sandbox/sandbox-driver.js';
import { readCookie } from './learner.js';
import type { SessionManager } from '../sessions/session-manager.js';
import type { Session } from '../sessions/session.js';

export const PORT_PREFIX = '/p';

/** The CSP of every proxied answer: scripts, forms and popups work; the origin is opaque. */
export const PORT_CSP = 'sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads';

export function cookieName(session: string): string { return `tl_${session}`; }

/** Set on session creation, so port links opened in new tabs carry the credential. */
export function portCookie(session: Session): string {
  return `${cookieName(session.id)}=${session.token}; Path=${PORT_PREFIX}/${session.id}/; HttpOnly; SameSite=Strict`;
}

/** The path credential of a session's port links: knowing it does not reveal the token. */
export function portKey(session: Session): string {
  return crypto.createHmac('sha256', session.token).update('termlab port link').digest('base64url').slice(0, 32);
}

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'cookie', 'host'];

/** Upstream headers that would act on the app's origin rather than on the one page. */
const ORIGIN_WIDE = new Set([
  'set-cookie', 'service-worker-allowed', 'content-security-policy', 'content-security-policy-report-only', 'clear-site-data',
  'strict-transport-security', 'link', 'refresh', 'origin-agent-cluster', 'alt-svc', 'nel', 'report-to', 'reporting-endpoints',
  'set-login', 'referrer-policy', 'permissions-policy',
]);
const ORIGIN_WIDE_PREFIXES = ['access-control-', 'cross-origin-'];

function originWide(name: string): boolean {
  return ORIGIN_WIDE.has(name) || ORIGIN_WIDE_PREFIXES.some((p) => name.startsWith(p));
}

function sameKey(session: Session, key: string): boolean {
  const want = Buffer.from(portKey(session));
  const got = Buffer.from(key);
  return got.length === want.length && crypto.timingSafeEqual(got, want);
}

/** Express handler for GET/POST/... /p/:session/:host/:port/* */
export function portProxy(sessions: SessionManager, driver: Pick<SandboxDriver, 'dial'>, opts: { harden: boolean }) {
  return async (req: Request, res: Response): Promise<void> => {
    // A service worker registered from here would control every page of the app's origin under its scope.
    if (opts.harden && req.get('service-worker') === 'script') {
      res.status(403).type('text').send('Lab ports cannot register service workers.');
      return;
    }
    const m = /^\/([a-z0-9]+)(?:\.([A-Za-z0-9_-]+))?\/([a-z][a-z0-9-]*)\/(\d{1,5})(\/.*)?$/.exec(req.url);
    if (!m) { res.status(404).type('text').send('A port link looks like /p/<session>/<host>/<port>/'); return; }
    const [, id, key, host, portText, rest] = m as unknown as [string, string, string | undefined, string, string, string | undefined];
    let session: Session | undefined;
    if (key !== undefined) {
      const found = sessions.byId(id);
      session = found && sameKey(found, key) ? found : undefined;
    } else {
      const token = readCookie(req, cookieName(id));
      const found = token ? await sessions.find(token).catch(() => undefined) : undefined;
      session = found?.id === id ? found : undefined;
    }
    if (!session) {
      res.status(403).type('text').send('This lab port belongs to another browser session (or the session ended). Open it from the lab page.');
      return;
    }
    const port = Number(portText);
    const box = session.boxes.get(host);
    if (!box || port < 1 || port > 65535) { res.status(404).type('text').send(`This lab has no host "${host}".`); return; }
    if (key === undefined && (req.method === 'GET' || req.method === 'HEAD')) {
      res.redirect(302, `${PORT_PREFIX}/${id}.${portKey(session)}/${host}/${port}${rest ?? '/'}`);
      return;
    }
    if (!rest) { res.redirect(301, `${PORT_PREFIX}${req.url}/`); return; }
    session.touch();
    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.includes(k)) headers[k] = v;
    // The sandbox layer dials the box (its engine knows where it is); http speaks over that stream.
    const upstream = http.request({ createConnection: () => driver.dial(box, port) as net.Socket, path: rest, method: req.method, headers, timeout: 15_000 }, (answer) => {
      const out: http.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(answer.headers)) {
        if (HOP_BY_HOP.includes(k) || k === 'set-cookie' || (opts.harden && originWide(k))) continue;
        out[k] = v;
      }
      if (opts.harden) {
        out['content-security-policy'] = PORT_CSP;
        out['x-content-type-options'] = 'nosniff';
        // The key in the path must not travel to other sites in Referer.
        out['referrer-policy'] = 'no-referrer';
      }
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
