// DNS-rebinding guard: a page on evil.example whose name is made to resolve to this server would
// be same-origin with it (its Origin and Host agree), so the Origin check alone lets it in. Only the
// Host header tells: it must name this server. Applied to every HTTP request and WebSocket upgrade.
import type http from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import type { Config } from '../config.js';

const ALWAYS = ['localhost', '127.0.0.1', '[::1]'];
const WILDCARDS = ['0.0.0.0', '::', '[::]'];

export class HostCheck {
  private readonly names: ReadonlySet<string>;
  readonly anyHost: boolean;

  constructor(config: Pick<Config, 'host' | 'allowedHosts' | 'allowedOrigins'>) {
    const names = new Set(ALWAYS);
    const host = config.host.toLowerCase();
    if (!WILDCARDS.includes(host)) names.add(host.includes(':') && !host.startsWith('[') ? `[${host}]` : host);
    for (const name of config.allowedHosts) names.add(name.toLowerCase());
    for (const origin of config.allowedOrigins) {
      try { names.add(new URL(origin).hostname.toLowerCase()); } catch { /* not a URL: the origin check never matches it either */ }
    }
    this.anyHost = names.has('*');
    this.names = names;
  }

  /** The Host header's name (port dropped, lowercased, trailing dot removed), or undefined when absent. */
  static hostname(header: string | undefined): string | undefined {
    if (!header) return undefined;
    const h = header.trim().toLowerCase();
    const name = h.startsWith('[') ? h.slice(0, h.indexOf(']') + 1) : h.replace(/:\d*$/, '');
    return name.replace(/\.$/, '');
  }

  allows(header: string | undefined): boolean {
    if (this.anyHost) return true;
    const name = HostCheck.hostname(header);
    return name !== undefined && this.names.has(name);
  }

  /** What a refused client is told. */
  refusal(header: string | undefined): string {
    return header
      ? `This termlab server does not answer to the host name "${header}". If that is its public name, add it to TERMLAB_ALLOWED_HOSTS (comma-separated) on the server.\n`
      : 'The request has no Host header; termlab answers only requests that name it.\n';
  }

  middleware() {
    return (req: Request, res: Response, next: NextFunction): void => {
      if (this.allows(req.headers.host)) return next();
      res.status(421).type('text/plain').send(this.refusal(req.headers.host));
    };
  }

  /** For the WebSocket upgrade, which never reaches express. */
  upgradeAllowed(req: http.IncomingMessage): boolean { return this.allows(req.headers.host); }
}
