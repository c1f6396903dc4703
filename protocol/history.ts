// A learner's own history (self-paced labs): what this browser has done in each lab, resuming an
// unfinished lab on a fresh box, and signed proof of a finished one. Shapes shared by web/ and
// server/ (the server's side is server/history/).

/**
 * One try at a lab by one learner (browser). Starting a lab begins an attempt; "Continue from step
 * N" continues the lab's latest unfinished one on a fresh box; "Start over" begins another (the
 * unfinished one is then `left`).
 */
export interface AttemptInfo {
  id: string;
  lab: string;
  /** The lab's title when the attempt began. */
  title: string;
  state: 'in-progress' | 'finished' | 'left';
  /** Steps in the lab. */
  steps: number;
  /** Steps passed so far (in order: steps 1..passed are done). */
  passed: number;
  startedAt: number;
  /** Last step passed, or when it began. */
  updatedAt: number;
  finishedAt?: number;
  /**
   * In progress only: how "Continue from step N" would go. `step` is N (1-based, passed + 1).
   * `problem` says why the lab cannot be continued (it changed since, its box is still...): the page
   * then offers only to start over.
   */
  resume?: { step: number; problem?: string };
  /** Its session is still running (the box has not been removed yet): continuing takes it back as it is. */
  live?: boolean;
  /** Finished only: the proof-of-completion page, /completions/<token>. */
  completion?: string;
}

/** GET /api/me: this browser's name and attempts, newest first (bounded: see limits). */
export interface HistoryResponse {
  /** Display name shown on completion pages ('' when not given). */
  name: string;
  attempts: AttemptInfo[];
  limits: { attemptsPerLab: number; retentionDays: number };
}

/** PUT /api/me with { name }: sets the display name (at most NAME_MAX characters; '' clears it). */
export interface NameRequest { name: string }
export const NAME_MAX = 60;

/** Extra fields of POST /api/sessions: `resume: true` continues this learner's unfinished attempt at the lab. */
export interface ResumeRequest { resume?: boolean }

/**
 * Replaying a resumed lab, in LabProgress.replay: the fresh box is being brought to where the learner
 * left it by running the solutions (and checks) of the steps they had passed.
 */
export type ReplayState =
  /** Replaying step `step` (1-based) of the `of` steps to replay. */
  | { state: 'running'; step: number; of: number; title: string }
  /** Step `step` could not be replayed: the learner is at that step, and may do it or start over. */
  | { state: 'failed'; step: number; of: number; title: string; message: string }
  | { state: 'done'; of: number };

/** The box's lifetime on the session channel: after `session-ready`, and again after each extension. */
export interface LifetimeMessage {
  type: 'lifetime';
  /** When the session began: its lifetime runs from here to expiresAt (how early the page warns depends on it). */
  createdAt: number;
  expiresAt: number;
  /** A box with no browser attached is removed after this long (progress is kept). */
  idleTimeoutMs: number;
  /** How many more times the learner may extend (0: never, or used up); workshop seats never do. */
  extensionsLeft: number;
  /** How much one extension adds. */
  extendMs: number;
}

/** POST /api/sessions/:id/extend (Bearer) answers with the new lifetime. */
export type ExtendResponse = Omit<LifetimeMessage, 'type'>;

/** What a proof of completion states; signed by the server (the token carries it and its signature). */
export interface Completion {
  /** The attempt: erasing history withdraws its completion. */
  attempt: string;
  lab: string;
  title: string;
  /** The learner's display name when it was issued ('' if none). */
  name: string;
  startedAt: number;
  finishedAt: number;
  steps: Array<{ title: string; passedAt: number }>;
  /** Share ids of the learner's recordings of this lab made during the attempt: /watch/<share>. */
  recordings: string[];
  issuedAt: number;
}

/** GET /api/completions/:token */
export type CompletionResponse =
  | { verified: true; completion: Completion; url: string }
  /** Not issued by this server, changed since, or withdrawn: `reason` says which. */
  | { verified: false; reason: string };

/** The page of a completion token. */
export function completionPath(token: string): string {
  return `/completions/${token}`;
}
