// View tickets: how a workshop's instructor or assistant opens a seated learner's terminal
// read-only. The dashboard asks for one over HTTP (authorised by the workshop's role cookie) and
// sends it as the token of a `view` hello on the WebSocket, so the socket layer keeps one rule:
// a secret in the hello decides what the socket may see. Tickets are short-lived and single-use,
// so one leaked from a page's memory or a log is worth nothing a minute later.
import crypto from 'node:crypto';

/** A ticket must be redeemed this soon after it was issued. */
export const VIEW_TICKET_TTL_MS = 60_000;

export interface ViewGrant {
  session: string;
  /** The workshop whose role asked (an instructor may take control; an assistant never). */
  workshop: string;
  role: 'instructor' | 'assistant';
}

/** Tickets are held by their hash, as session tokens are: a memory dump or a Map's timing gives no usable ticket. */
function ticketKey(ticket: string): string { return crypto.createHash('sha256').update(ticket).digest('hex'); }

export class ViewTickets {
  private readonly tickets = new Map<string, ViewGrant & { expires: number }>();

  issue(grant: ViewGrant): string {
    this.prune();
    const ticket = crypto.randomBytes(24).toString('base64url');
    this.tickets.set(ticketKey(ticket), { ...grant, expires: Date.now() + VIEW_TICKET_TTL_MS });
    return ticket;
  }

  /** The grant, once: a second redeem of the same ticket gets nothing. */
  redeem(ticket: string): ViewGrant | undefined {
    const key = ticketKey(ticket);
    const t = this.tickets.get(key);
    this.tickets.delete(key);
    if (!t || t.expires < Date.now()) return undefined;
    return { session: t.session, workshop: t.workshop, role: t.role };
  }

  private prune(): void {
    const now = Date.now();
    for (const [k, t] of this.tickets) if (t.expires < now) this.tickets.delete(k);
  }
}
