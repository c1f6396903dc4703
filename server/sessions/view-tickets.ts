// View tickets: how a workshop's instructor or assistant opens a seated learner's terminal
// read-only. The dashboard asks for one over HTTP (authorised by the workshop's role cookie) and
// sends it as the token of a `view` hello on the WebSocket, so the socket layer keeps one rule:
// a secret in the hello decides what the socket may see. Tickets are short-lived and single-use,
// so one leaked from a page's memory or a log is worth nothing a minute later. With replicas, the
// ticket is signed with a key they share, so the replica serving the terminal can redeem it.
import crypto from 'node:crypto';

/** A ticket must be redeemed this soon after it was issued. */
export const VIEW_TICKET_TTL_MS = 60_000;

export interface ViewGrant {
  session: string;
  /** The workshop whose role asked (an instructor may take control; an assistant never). */
  workshop: string;
  role: 'instructor' | 'assistant';
}

const NONCE_BYTES = 8;
const MAC_BYTES = 16;

type Signed = ViewGrant & { expires: number; nonce: string };

/** Tickets are held by their hash, as session tokens are: a memory dump or a Map's timing gives no usable ticket. */
function ticketKey(ticket: string): string { return crypto.createHash('sha256').update(ticket).digest('hex'); }

export class ViewTickets {
  private readonly tickets = new Map<string, ViewGrant & { expires: number }>();
  /** Signed tickets redeemed here, by nonce, until they expire: each opens one view. */
  private readonly used = new Map<string, number>();

  /**
   * `key`: replicas sharing a database sign tickets with their instance's key (store/instance-key.ts),
   * so the replica serving the session redeems a ticket another replica issued (the dashboard's).
   * Without one, tickets are this server's alone.
   */
  constructor(private readonly key?: Buffer) {}

  issue(grant: ViewGrant): string {
    this.prune();
    const expires = Date.now() + VIEW_TICKET_TTL_MS;
    if (this.key) return this.signed({ ...grant, expires, nonce: crypto.randomBytes(NONCE_BYTES).toString('hex') });
    const ticket = crypto.randomBytes(24).toString('base64url');
    this.tickets.set(ticketKey(ticket), { ...grant, expires });
    return ticket;
  }

  /**
   * What a signed ticket grants, without using it up (a replica that does not serve the session
   * relays the view to the one that does, which redeems it). Undefined when forged or expired.
   */
  peek(ticket: string): ViewGrant | undefined {
    const signed = this.verify(ticket);
    if (signed) return { session: signed.session, workshop: signed.workshop, role: signed.role };
    const t = this.tickets.get(ticketKey(ticket));
    return t && t.expires >= Date.now() ? { session: t.session, workshop: t.workshop, role: t.role } : undefined;
  }

  /** The grant, once: a second redeem of the same ticket gets nothing. */
  redeem(ticket: string): ViewGrant | undefined {
    const signed = this.verify(ticket);
    if (signed) {
      if (this.used.has(signed.nonce)) return undefined;
      this.prune();
      this.used.set(signed.nonce, signed.expires);
      return { session: signed.session, workshop: signed.workshop, role: signed.role };
    }
    const key = ticketKey(ticket);
    const t = this.tickets.get(key);
    this.tickets.delete(key);
    if (!t || t.expires < Date.now()) return undefined;
    return { session: t.session, workshop: t.workshop, role: t.role };
  }

  /**
   * A signed ticket is a session token's shape (URL-safe, at most 128 characters, protocol/validate.ts):
   * role, expiry (s), nonce, session and workshop ids, then a truncated HMAC of all that.
   */
  private signed(t: Signed): string {
    const ids = Buffer.from(`${t.session}\n${t.workshop}`);
    const body = Buffer.alloc(1 + 4 + NONCE_BYTES + ids.length);
    body.writeUInt8(t.role === 'instructor' ? 1 : 2, 0);
    body.writeUInt32BE(Math.ceil(t.expires / 1000), 1);
    Buffer.from(t.nonce, 'hex').copy(body, 5);
    ids.copy(body, 5 + NONCE_BYTES);
    return Buffer.concat([body, this.mac(body)]).toString('base64url');
  }

  private mac(body: Buffer): Buffer {
    return crypto.createHmac('sha256', this.key!).update(body).digest().subarray(0, MAC_BYTES);
  }

  private verify(ticket: string): Signed | undefined {
    if (!this.key) return undefined;
    const raw = Buffer.from(ticket, 'base64url');
    if (raw.length < 1 + 4 + NONCE_BYTES + 3 + MAC_BYTES) return undefined;
    const body = raw.subarray(0, raw.length - MAC_BYTES);
    if (!crypto.timingSafeEqual(raw.subarray(raw.length - MAC_BYTES), this.mac(body))) return undefined;
    const [session, workshop] = body.subarray(5 + NONCE_BYTES).toString().split('\n');
    const expires = body.readUInt32BE(1) * 1000;
    if (!session || !workshop || expires < Date.now()) return undefined;
    return { session, workshop, role: body.readUInt8(0) === 1 ? 'instructor' : 'assistant', expires, nonce: body.subarray(5, 5 + NONCE_BYTES).toString('hex') };
  }

  private prune(): void {
    const now = Date.now();
    for (const [k, t] of this.tickets) if (t.expires < now) this.tickets.delete(k);
    for (const [n, expires] of this.used) if (expires < now) this.used.delete(n);
  }
}
