// Probes of the HTTP and WebSocket defences (issue 8: one hostile learner must not hurt anyone
// else). Each probe attacks a running server the way a learner could (scripting the API, forging
// headers, opening sockets, serving hostile pages from their box) and reports what it measured.
// `held` says the defence held; test/security/http.test.ts shows each probe also notices when the
// defence is turned off.
import crypto from 'node:crypto';
import http from 'node:http';
import WebSocket from 'ws';
import { WS_PATH } from '../../protocol/api.js';
import type { ServerMessage } from '../../protocol/messages.js';
import { ProtocolClient } from '../helpers/protocol-client.js';

export interface ProbeResult { name: string; held: boolean; effect: string }

/**
 * The server under attack: its base URL (http://127.0.0.1:PORT), and the local address the probe
 * connects from. Linux routes all of 127.0.0.0/8 to this machine, so each probe can be its own
 * client address and per-address limits of one probe do not spill into the next.
 */
export interface Target { url: string; from: string }

/** The limits the probes hold the server to: the documented defaults (README), not what the server says. */
export const EXPECTED = {
  sessionsPerLearner: 3,
  sessionStartBurst: 5,
  sessionStartsPerMinute: 10,
  helloTimeoutMs: 10_000,
  socketsPerIp: 64,
};

interface Answer { status: number; headers: http.IncomingHttpHeaders; body: string }

/** One HTTP request with full control of the headers (fetch will not forge Host) and the source address. */
export function request(t: Target, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  const url = new URL(t.url);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: url.hostname, port: url.port, path, method: opts.method ?? 'GET', localAddress: t.from, agent: false,
      headers: { ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A learner cookie of a browser of our own making. */
export function learnerCookie(): string { return `tl_learner=${crypto.randomBytes(18).toString('base64url')}`; }

interface Started { id: string; token: string; cookies: string[] }

async function startLab(t: Target, headers: Record<string, string> = {}): Promise<{ answer: Answer; session?: Started }> {
  const answer = await request(t, '/api/sessions', { method: 'POST', headers, body: JSON.stringify({ lab: 'hello' }) });
  if (answer.status !== 201) return { answer };
  const info = JSON.parse(answer.body) as { id: string; token: string };
  const cookies = ([] as string[]).concat(answer.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]!);
  return { answer, session: { ...info, cookies } };
}

async function endLab(t: Target, s: Started): Promise<void> {
  const res = await request(t, `/api/sessions/${s.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${s.token}` } });
  if (res.status !== 204) throw new Error(`ending session ${s.id}: ${res.status} ${res.body}`);
}

async function liveSessions(t: Target): Promise<number> {
  const res = await request(t, '/api/health');
  return (JSON.parse(res.body) as { sessions: number }).sessions;
}

function apiError(a: Answer): { code: string; error: string } | undefined {
  try { return JSON.parse(a.body) as { code: string; error: string }; } catch { return undefined; }
}

function tally(answers: Answer[]): string {
  const counts = new Map<number, number>();
  for (const a of answers) counts.set(a.status, (counts.get(a.status) ?? 0) + 1);
  return [...counts].map(([s, n]) => `${n}×${s}`).join(', ');
}

// ---- Host allow-list (DNS rebinding) ----

const EVIL = 'evil.example';

/** A page on evil.example rebound to this server: same-origin in the browser, so Origin matches Host. */
export async function probeHostHttp(t: Target): Promise<ProbeResult> {
  const port = new URL(t.url).port;
  const host = `${EVIL}:${port}`;
  const before = await liveSessions(t);
  const page = await request(t, '/', { headers: { host } });
  const post = await startLab(t, { host, origin: `http://${host}`, cookie: learnerCookie() });
  const created = (await liveSessions(t)) - before;
  if (post.session) await endLab(t, post.session);
  const refused = (s: number) => s === 421 || s === 403;
  const named = post.answer.body.includes('TERMLAB_ALLOWED_HOSTS');
  return {
    name: 'host allow-list (HTTP)',
    held: refused(page.status) && refused(post.answer.status) && created === 0 && named,
    effect: `Host ${host}: GET / ${page.status}, POST /api/sessions ${post.answer.status}, ${created} session(s) created` +
      `${named ? ', the answer names TERMLAB_ALLOWED_HOSTS' : ''}`,
  };
}

/** Opens a WebSocket; resolves with the upgrade's status (101 when it opened, then closed again). */
function upgrade(t: Target, headers: Record<string, string>): Promise<{ status: number; body: string; ws?: WebSocket }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(t.url.replace(/^http/, 'ws') + WS_PATH, { headers, localAddress: t.from });
    ws.once('open', () => resolve({ status: 101, body: '', ws }));
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    ws.once('error', (err) => reject(err));
  });
}

export async function probeHostWs(t: Target): Promise<ProbeResult> {
  const host = `${EVIL}:${new URL(t.url).port}`;
  const answer = await upgrade(t, { host, origin: `http://${host}` });
  answer.ws?.terminate();
  return {
    name: 'host allow-list (WebSocket)',
    held: (answer.status === 421 || answer.status === 403) && answer.body.includes('TERMLAB_ALLOWED_HOSTS'),
    effect: `WebSocket upgrade with Host ${host} and a matching Origin: ${answer.status}${answer.status === 101 ? ' (opened)' : ''}`,
  };
}

// ---- the page's security headers ----

function directives(csp: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (csp ?? '').split(';').map((s) => s.trim()).filter(Boolean)) {
    const [name, ...values] = part.split(/\s+/);
    out.set(name!.toLowerCase(), values.join(' '));
  }
  return out;
}

export async function probePageHeaders(t: Target): Promise<ProbeResult> {
  const page = await request(t, '/');
  const embed = await request(t, '/embed/some-share-id');
  const missing: string[] = [];
  const csp = directives(page.headers['content-security-policy'] as string | undefined);
  const want: Record<string, (v: string | undefined) => boolean> = {
    'default-src': (v) => v === "'self'",
    // 'wasm-unsafe-eval' (compiling WebAssembly) is allowed; script from strings, inline or anywhere is not.
    'script-src': (v) => v !== undefined && !v.split(' ').some((x) => ["'unsafe-inline'", "'unsafe-eval'", '*', 'data:', 'http:', 'https:', 'blob:'].includes(x)),
    'connect-src': (v) => v === "'self'",
    'object-src': (v) => v === "'none'",
    'base-uri': (v) => v === "'none'",
    'frame-ancestors': (v) => v === "'none'",
    'form-action': (v) => v === "'self'",
  };
  for (const [name, ok] of Object.entries(want)) if (!ok(csp.get(name))) missing.push(`CSP ${name}`);
  const h = page.headers;
  if (h['cross-origin-opener-policy'] !== 'same-origin') missing.push('COOP same-origin');
  if (h['cross-origin-resource-policy'] !== 'same-origin') missing.push('CORP same-origin');
  if (!/camera=\(\)/.test(String(h['permissions-policy'])) || !/microphone=\(\)/.test(String(h['permissions-policy']))) missing.push('Permissions-Policy');
  if (h['x-content-type-options'] !== 'nosniff') missing.push('nosniff');
  if (h['referrer-policy'] !== 'no-referrer') missing.push('Referrer-Policy');
  const embedCsp = directives(embed.headers['content-security-policy'] as string | undefined);
  if (embedCsp.get('frame-ancestors') !== '*') missing.push('/embed/ frameable');
  if (embedCsp.get('default-src') !== "'self'") missing.push('/embed/ CSP');
  return {
    name: 'page security headers',
    held: page.status === 200 && missing.length === 0,
    effect: missing.length === 0 ? 'the page has CSP, COOP, CORP, Permissions-Policy, nosniff, Referrer-Policy; /embed/ stays frameable'
      : `missing or weak: ${missing.join(', ')}`,
  };
}

// ---- port links: the learner's own web server, on the app's origin ----

/** What the hostile web server in the box answers: every header that could act on the app's origin. */
const HOSTILE_HEADERS = [
  'Set-Cookie: tl_learner=stolen; Path=/',
  'Service-Worker-Allowed: /',
  'Content-Security-Policy: default-src *',
  'Content-Security-Policy-Report-Only: default-src *',
  'Clear-Site-Data: "cookies", "storage"',
  'Access-Control-Allow-Origin: *',
  'Access-Control-Allow-Credentials: true',
  'Strict-Transport-Security: max-age=31536000; includeSubDomains',
  'Link: </sw.js>; rel=serviceworker',
  'Refresh: 0; url=/api/labs',
  'Origin-Agent-Cluster: ?0',
  'Cross-Origin-Opener-Policy: unsafe-none',
  'Cross-Origin-Resource-Policy: cross-origin',
];
export const STRIPPED = HOSTILE_HEADERS.map((h) => h.split(':')[0]!.toLowerCase());
const PORT = 8000;

/** Starts a lab and, in its box, a netcat web server answering every request with the hostile headers. */
export async function hostileWebServer(t: Target): Promise<{ session: Started; cookie: string; close: () => Promise<void> }> {
  const cookie = learnerCookie();
  const { answer, session } = await startLab(t, { cookie });
  if (!session) throw new Error(`starting a lab for the port probe: ${answer.status} ${answer.body}`);
  const c = await ProtocolClient.open(t.url, session.token);
  const lines = ['HTTP/1.1 200 OK', 'Content-Type: text/html', ...HOSTILE_HEADERS, 'Connection: close', '', '<h1>hostile page</h1>'];
  c.type(`printf '${lines.join('\\r\\n')}\\n' > /tmp/resp; (while :; do nc -l -N ${PORT} < /tmp/resp > /dev/null; done) >/dev/null 2>&1 &\r`);
  // Listening, seen without connecting (a connection would use up this round of the loop).
  c.type(`until ss -ltn | grep -q ':${PORT} '; do sleep 0.1; done; echo srv-$((40+2))\r`);
  await c.waitForText('srv-42', 20_000);
  c.close();
  const portCookie = session.cookies.find((x) => x.startsWith(`tl_${session.id}=`))!;
  return { session, cookie: `${cookie}; ${portCookie}`, close: () => endLab(t, session) };
}

export async function probePortProxy(t: Target): Promise<ProbeResult> {
  const box = await hostileWebServer(t);
  try {
    const link = `/p/${box.session.id}/lab/${PORT}/`;
    // The browser that started the lab follows the port link: the cookie admits it, then a keyed path.
    const first = await request(t, link, { headers: { cookie: box.cookie } });
    const keyed = first.status === 302 ? String(first.headers.location) : link;
    const page = await request(t, keyed, { headers: first.status === 302 ? {} : { cookie: box.cookie } });
    const sw = await request(t, keyed, { headers: { 'service-worker': 'script', ...(first.status === 302 ? {} : { cookie: box.cookie }) } });
    const csp = String(page.headers['content-security-policy'] ?? '');
    const sandbox = /^sandbox\b/.test(csp) && !/allow-same-origin/.test(csp) && !/allow-popups-to-escape-sandbox|allow-top-navigation/.test(csp);
    const leaked = STRIPPED.filter((name) => {
      if (name === 'content-security-policy') return !sandbox;
      return page.headers[name] !== undefined;
    });
    const served = page.status === 200 && page.body.includes('hostile page');
    return {
      name: 'port links are sandboxed',
      held: served && sandbox && leaked.length === 0 && sw.status === 403,
      effect: `proxied page ${page.status}; CSP "${csp}"; origin-wide headers passed: ${leaked.length ? leaked.join(', ') : 'none'}; ` +
        `Service-Worker: script ${sw.status}`,
    };
  } finally {
    await box.close();
  }
}

// ---- /metrics ----

export async function probeMetrics(t: Target): Promise<ProbeResult> {
  // What anyone on the internet sends through a reverse proxy on this machine.
  const proxied = await request(t, '/metrics', { headers: { 'x-forwarded-for': '203.0.113.7' } });
  const wrong = await request(t, '/metrics', { headers: { 'x-forwarded-for': '203.0.113.7', authorization: 'Bearer not-the-token-at-all' } });
  const leaks = (a: Answer) => a.status === 200 || /termlab_sessions/.test(a.body);
  return {
    name: '/metrics is closed',
    held: !leaks(proxied) && !leaks(wrong) && proxied.body.includes('TERMLAB_METRICS_TOKEN'),
    effect: `/metrics through a proxy without token: ${proxied.status}; with a wrong token: ${wrong.status}`,
  };
}

// ---- per-client limits on starting labs ----

/** One browser (one learner cookie) starts labs in parallel; then ends one and starts another. */
export async function probeSessionsPerLearner(t: Target, attempts = 50): Promise<ProbeResult> {
  const cookie = learnerCookie();
  const answers = await Promise.all(Array.from({ length: attempts }, () => startLab(t, { cookie })));
  const started = answers.flatMap((a) => (a.session ? [a.session] : []));
  const refusals = answers.filter((a) => !a.session).map((a) => a.answer);
  const told = refusals.length > 0 && refusals.every((a) => a.status === 429 && /already have \d+ labs? running: end one/.test(apiError(a)?.error ?? ''));
  let freed = false;
  if (started.length > 0) {
    await endLab(t, started.pop()!);
    const again = await startLab(t, { cookie });
    freed = again.session !== undefined;
    if (again.session) started.push(again.session);
  }
  await Promise.all(started.map((s) => endLab(t, s)));
  const created = answers.filter((a) => a.session).length;
  return {
    name: 'live labs per learner',
    held: created >= 1 && created <= EXPECTED.sessionsPerLearner && told && freed,
    effect: `sessions created by one client: ${created} of ${attempts} attempts (${tally(answers.map((a) => a.answer))})` +
      `${freed ? '; after ending one, a new one starts' : ''}`,
  };
}

/** Many browsers behind one address start labs in parallel and keep them. */
export async function probeSessionsPerIp(t: Target, expected: number, attempts = 12): Promise<ProbeResult> {
  const answers = await Promise.all(Array.from({ length: attempts }, () => startLab(t, { cookie: learnerCookie() })));
  const started = answers.flatMap((a) => (a.session ? [a.session] : []));
  await Promise.all(started.map((s) => endLab(t, s)));
  const refusals = answers.filter((a) => !a.session).map((a) => a.answer);
  const told = refusals.some((a) => a.status === 429 && apiError(a)?.code === 'too-many-sessions-ip');
  return {
    name: 'live labs per address',
    held: started.length >= 1 && started.length <= expected && told,
    effect: `sessions held by ${attempts} browsers behind one address: ${started.length} (${tally(answers.map((a) => a.answer))})`,
  };
}

/**
 * A script posting lab starts back to back, each as a new browser (no cookie kept), optionally
 * claiming a new address in X-Forwarded-For each time. It asks for a lab that does not exist, so
 * no box is made and the measure does not depend on how fast boxes start: the limiter takes its
 * token before the lab is looked up, so what gets past it is what reaches the session manager
 * (404 here; a box for a real lab). Returns those and how many the bucket could have allowed.
 */
async function flood(t: Target, attempts: number, forge: boolean): Promise<{ passed: number; allowed: number; answers: Answer[] }> {
  const answers: Answer[] = [];
  const begun = Date.now();
  for (let i = 0; i < attempts; i++) {
    const headers: Record<string, string> = { cookie: learnerCookie() };
    if (forge) headers['x-forwarded-for'] = `198.51.100.${i + 1}`;
    answers.push(await request(t, '/api/sessions', { method: 'POST', headers, body: JSON.stringify({ lab: 'no-such-lab-flood' }) }));
  }
  const allowed = EXPECTED.sessionStartBurst + Math.floor(((Date.now() - begun) / 60_000) * EXPECTED.sessionStartsPerMinute);
  return { passed: answers.filter((a) => a.status !== 429).length, allowed, answers };
}

export async function probeStartRate(t: Target, attempts = 30): Promise<ProbeResult> {
  const { passed, allowed, answers } = await flood(t, attempts, false);
  const limited = answers.find((a) => a.status === 429 && apiError(a)?.code === 'rate-limited');
  const told = limited !== undefined && /wait \d+ s/.test(apiError(limited)?.error ?? '') && limited.headers['retry-after'] !== undefined;
  return {
    name: 'lab start rate per address',
    held: passed >= 1 && passed <= allowed && told,
    effect: `lab starts posted back to back from one address: ${passed} of ${attempts} got past the limiter, the bucket allows ${allowed} (${tally(answers)})`,
  };
}

export async function probeForwardedFor(t: Target, attempts = 30): Promise<ProbeResult> {
  const { passed, allowed, answers } = await flood(t, attempts, true);
  return {
    name: 'X-Forwarded-For is not believed',
    held: passed >= 1 && passed <= allowed,
    effect: `lab starts posted with a new forged X-Forwarded-For each time: ${passed} of ${attempts} got past the limiter, the bucket allows ${allowed} (${tally(answers)})`,
  };
}

// ---- WebSocket limits ----

/** A socket that never says hello but pings, so the heartbeat alone never closes it. */
export async function probeHelloTimeout(t: Target, expectMs = EXPECTED.helloTimeoutMs): Promise<ProbeResult> {
  const opened = await upgrade(t, {});
  const ws = opened.ws;
  if (!ws) return { name: 'hello timeout', held: false, effect: `the socket did not open: ${opened.status}` };
  const messages: ServerMessage[] = [];
  ws.on('message', (data: Buffer, binary) => { if (!binary) messages.push(JSON.parse(data.toString()) as ServerMessage); });
  const started = Date.now();
  let id = 0;
  const ping = () => ws.send(JSON.stringify({ type: 'ping', id: ++id }));
  ping();
  const pinger = setInterval(ping, 1000);
  const closed = await new Promise<boolean>((resolve) => {
    const give = setTimeout(() => resolve(false), expectMs + 5000);
    ws.once('close', () => { clearTimeout(give); resolve(true); });
  });
  clearInterval(pinger);
  ws.terminate();
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  const error = messages.find((m) => m.type === 'error');
  const named = error?.type === 'error' && error.code === 'hello-timeout' && /hello/.test(error.message);
  return {
    name: 'hello timeout',
    held: closed && named,
    effect: closed ? `a pinging socket without hello was closed after ${secs} s${named ? ' with a hello-timeout error' : ''}`
      : `a pinging socket without hello was still open after ${secs} s (${id} pings answered)`,
  };
}

/** One address opens many sockets at once (many tabs, or a script). */
export async function probeSocketsPerIp(t: Target, expected = EXPECTED.socketsPerIp, extra = 8): Promise<ProbeResult> {
  const attempts = expected + extra;
  const results = await Promise.all(Array.from({ length: attempts }, () => upgrade(t, {}).catch(() => ({ status: 0, body: '', ws: undefined }))));
  const open = results.filter((r) => r.ws).length;
  const refused = results.filter((r) => r.status === 429);
  for (const r of results) r.ws?.terminate();
  const named = refused.length > 0 && refused.every((r) => r.body.includes('TERMLAB_SOCKETS_PER_IP'));
  return {
    name: 'open sockets per address',
    held: open >= 1 && open <= expected && named,
    effect: `sockets opened from one address: ${open} of ${attempts}, ${refused.length} refused with 429`,
  };
}
