// The active session, kept in sessionStorage so that reloading the page rejoins it (per tab).
import type { SessionInfo } from '../protocol/api.js';

export interface StoredSession {
  id: string;
  token: string;
  /** Lab id and title, for the header. */
  lab: string;
  title: string;
  /** Epoch milliseconds at which the session reaches its maximum lifetime. */
  expiresAt: number;
  /** The session's terminal ids (SessionInfo.terminals); missing in sessions stored before labs had several. */
  terminals?: string[];
  /** A workshop seat (joined at /w/CODE): the page shows the workshop's countdown and notices. */
  workshop?: { code: string; seat: string; name: string };
}

const KEY = 'termlab.session';

/** What the page keeps of a session it was given for a lab (a start, a continue, a start over). */
export function toStoredSession(info: SessionInfo, lab: string, title: string): StoredSession {
  return {
    id: info.id, token: info.token, lab, title, expiresAt: info.expiresAt,
    terminals: info.terminals.length > 0 ? info.terminals : undefined,
  };
}

function isStoredSession(value: unknown): value is StoredSession {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.id === 'string' && typeof v.token === 'string' && typeof v.lab === 'string'
    && typeof v.title === 'string' && typeof v.expiresAt === 'number'
    && (v.terminals === undefined || (Array.isArray(v.terminals) && v.terminals.length > 0 && v.terminals.every((t) => typeof t === 'string')));
}

export function loadSession(): StoredSession | undefined {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return undefined;
    const value: unknown = JSON.parse(raw);
    return isStoredSession(value) ? value : undefined;
  } catch {
    return undefined; // storage disabled or corrupt: start from the list
  }
}

export function saveSession(session: StoredSession): void {
  try {
    sessionStorage.setItem(KEY, JSON.stringify(session));
  } catch {
    // Storage disabled: the session works, it just cannot be rejoined after a reload.
  }
}

export function clearSession(): void {
  try {
    sessionStorage.removeItem(KEY);
  } catch { /* nothing stored then */ }
}
