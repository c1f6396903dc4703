// "Start over" from inside a running lab (its continued box could not be brought to where the
// learner left off): this box goes, and a new attempt at the same lab begins on a fresh one.
import { createSession, deleteSession } from '../api.js';
import { toStoredSession, type StoredSession } from '../session-store.js';

/**
 * Ends `from` and starts the lab again from step 1 (POST /api/sessions without `resume`: a new
 * attempt). The old box is ended first, so it does not count against the learner's live labs.
 */
export async function startOver(from: StoredSession): Promise<StoredSession> {
  await deleteSession(from.id, from.token);
  const info = await createSession(from.lab);
  return toStoredSession(info, from.lab, from.title);
}
