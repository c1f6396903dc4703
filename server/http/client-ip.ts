// The address a request comes from, for per-client limits. X-Forwarded-For is believed only for as
// many hops as TERMLAB_TRUST_PROXY says there are proxies: a learner can write any X-Forwarded-For
// they like, so without a trusted proxy it would hand them a fresh address on every request.
import type http from 'node:http';

/** The same rule as express's numeric `trust proxy` (proxy-addr): walk back from the socket through `hops` proxies. */
export function clientIp(req: http.IncomingMessage, hops: number): string {
  const chain = [normalise(req.socket.remoteAddress ?? 'unknown')];
  if (hops > 0) {
    const forwarded = String(req.headers['x-forwarded-for'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    chain.push(...forwarded.reverse().map(normalise));
  }
  return chain[Math.min(hops, chain.length - 1)]!;
}

/** "::ffff:10.0.0.1" and "10.0.0.1" are one client. */
function normalise(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address.toLowerCase();
}

/** True for 127.0.0.0/8, ::1 and localhost: addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^(::ffff:)?127\.\d+\.\d+\.\d+$/.test(h);
}
