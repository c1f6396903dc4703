// Sandbox profiles whose image is still being prepared after the server started listening (the
// kubernetes image builds its binaries from Go source: minutes on a first run). Both sides word it
// the same way: the server in its refusal to start a lab, the page on the lab's card.
import type { SandboxProfile } from './api.js';

export type PreparationState = 'ready' | 'preparing' | 'failed';

export interface ProfileStatus {
  state: PreparationState;
  /** What is being done now, while preparing: "building Kubernetes binaries". */
  phase?: string;
  /** Time spent in this phase so far. */
  elapsedMs?: number;
  /** How long this phase took the last time it succeeded here (or a default); absent when unknown (waiting for another process). */
  expectedMs?: number;
  /** Expected time until ready: the rest of this phase plus the phases after it. */
  leftMs?: number;
  /** Why preparing failed (its last words; the server log has the rest). */
  error?: string;
}

/** GET /api/profiles: answered from memory, cheap to poll while something is preparing. */
export interface ProfileStatusResponse { profiles: Partial<Record<SandboxProfile, ProfileStatus>> }

export const PROFILE_NAME: Record<SandboxProfile, string> = { shell: 'shell', docker: 'Docker', kubernetes: 'Kubernetes' };

const minutes = (ms: number): number => Math.max(1, Math.round(ms / 60_000));

/** "building Kubernetes binaries, 4 of ~7 min" (or "..., 4 min so far" without an estimate). */
export function describeProgress(status: ProfileStatus): string {
  const phase = status.phase ?? 'starting';
  const elapsed = Math.floor((status.elapsedMs ?? 0) / 60_000);
  if (status.expectedMs === undefined) return `${phase}, ${elapsed} min so far`;
  return `${phase}, ${elapsed} of ~${minutes(status.expectedMs)} min`;
}

/** The sentence a start of a lab of this profile gets while it is not ready, or undefined when it is. */
export function notReadyMessage(profile: SandboxProfile, status: ProfileStatus | undefined): string | undefined {
  const name = `The ${PROFILE_NAME[profile]} sandbox`;
  if (!status || status.state === 'ready') return undefined;
  if (status.state === 'failed') {
    return `${name} could not be prepared: ${status.error ?? 'unknown error'}. ` +
      'The server log has the details; it is tried again when the server restarts. Labs of other profiles work meanwhile.';
  }
  const left = status.leftMs === undefined ? '' : `, about ${minutes(status.leftMs)} min left`;
  return `${name} is still being prepared (${status.phase ?? 'starting'}${left}); try again then.`;
}
