// Who may read /metrics. It tells session counts and lab names to whoever asks, so it is closed
// unless the operator set a token, or the request can only have come from this machine: the server
// listens on loopback, no proxy is configured, and the request carries no forwarding header (a
// reverse proxy on the same machine would otherwise make the whole world look local).
import crypto from 'node:crypto';
import type { Request } from 'express';
import type { Config } from '../config.js';
import { isLoopback } from './client-ip.js';

const FORWARDING = ['x-forwarded-for', 'forwarded', 'x-real-ip'];

export type MetricsAccess = { ok: true } | { ok: false; status: 401 | 403; message: string };

export function metricsAccess(config: Pick<Config, 'metricsToken' | 'host' | 'trustProxy' | 'unsafeWeaken'>, req: Request): MetricsAccess {
  if (config.unsafeWeaken.includes('metrics')) return { ok: true };
  if (config.metricsToken) {
    const header = req.get('authorization') ?? '';
    const want = Buffer.from(`Bearer ${config.metricsToken}`);
    const got = Buffer.from(header);
    if (got.length === want.length && crypto.timingSafeEqual(got, want)) return { ok: true };
    return { ok: false, status: 401, message: 'metrics need "Authorization: Bearer <TERMLAB_METRICS_TOKEN>"' };
  }
  const local = isLoopback(config.host) && config.trustProxy === 0
    && isLoopback(req.socket.remoteAddress ?? '') && !FORWARDING.some((h) => req.headers[h] !== undefined);
  if (local) return { ok: true };
  return {
    ok: false, status: 403,
    message: 'metrics are served without a token only to this machine; set TERMLAB_METRICS_TOKEN on the server and scrape with "Authorization: Bearer <token>"',
  };
}
