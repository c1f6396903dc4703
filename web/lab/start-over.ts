// "Start over" from inside a running lab (its continued box could not be brought to where the
// learner left off): this box goes, and a new attempt at the same lab begins on a fresh one.
import type { SessionInfo } from '../../protocol/api.js';
import { createSession, deleteSession } from '../api.js';
import type { StoredSession } from '../session-store.js';

/** What the page keeps of a session it was given for a lab (see tl-home-page). */
export function toStoredSession(info: SessionInfo, lab: string, title: string): StoredSession {
  return {
    id: info.id, token: info.token, lab, title, expiresAt: info.expiresAt,
    terminals: info.terminals.length > 0 ? info.terminals : undefined,
  };
}

/**
 * Ends `from` and starts the lab again from step 1 (POST /api/sessions without `resume`: a new
 * attempt). The old box is ended first, so it does not count against the learner's live labs.
 */
export async function startOver(from: StoredSession): Promise<StoredSession> {
  await deleteSession(from.id, from.token);
  const info = await createSession(from.lab);
  return toStoredSession(info, from.lab, from.title);
}
