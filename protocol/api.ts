// Shapes of the HTTP API (JSON), shared by web/ and server/.
import type { LifetimeMessage, ReplayState } from './history.js';
import type { ServerMessage } from './messages.js';

export type SandboxProfile = 'shell' | 'docker' | 'kubernetes';

export interface LabSummary {
  id: string;
  title: string;
  description: string;
  profile: SandboxProfile;
  durationMinutes?: number;
  difficulty?: string;
  tags: string[];
  /** Number of checked steps. */
  steps: number;
  /** The lab ships a recorded walkthrough: GET /api/labs/:id/walkthrough.cast */
  walkthrough: boolean;
}

/** GET /api/labs */
export interface LabListResponse { labs: LabSummary[] }

/**
 * POST /api/sessions with body { lab }: a new attempt at the lab. With `resume: true`, this learner's
 * unfinished attempt continues instead: its running session back as it is (200), or a fresh box
 * brought to the step they had reached (201; LabProgress.replay shows it happen).
 */
export interface CreateSessionRequest { lab: string; resume?: boolean }
export interface SessionInfo {
  id: string;
  /** Secret: sent as the hello token on the WebSocket and as Bearer on HTTP calls. */
  token: string;
  lab: string;
  profile: SandboxProfile;
  terminals: string[];
  createdAt: number;
  expiresAt: number;
  idleTimeoutMs: number;
  /** Extensions of expiresAt the learner may still ask for (POST /api/sessions/:id/extend), and what each adds. */
  extensionsLeft: number;
  extendMs: number;
  /** Terminal id → id of its running recording (GET /api/sessions/:id only). */
  recordings?: Record<string, string>;
}

/** Any failed API call answers with this body and a 4xx/5xx status. */
export interface ApiError { error: string; code: string }

export const WS_PATH = '/ws';

// ---- labs: the guide beside the terminal ----

export interface LabTerminalInfo { id: string; title: string; host: string }

export interface LabStepContent {
  title: string;
  /** Markdown (render sanitised). Code fences may carry actions: ```bash exec terminal=host2 interrupt */
  text: string;
  hints: string[];
  /** The terminal "show me" types this step's solution into. */
  terminal: string;
  /** No check: the learner marks the step done ("Done, next step" sends the same check request). */
  manual?: boolean;
  /** Commands the page types into `terminal` once, when the step becomes current. */
  foreground?: string;
}

/** GET /api/sessions/:id/lab (Bearer): what the guide shows. Checks, setups and solutions stay on the server. */
export interface LabContent {
  id: string;
  title: string;
  intro: string;
  finish: string;
  hosts: string[];
  terminals: LabTerminalInfo[];
  steps: LabStepContent[];
}

export type StepStatus = 'pending' | 'current' | 'done';

export interface CheckFeedback {
  step: number;
  passed: boolean;
  /** The check's own output: what is missing, in the lab author's words. */
  message: string;
  at: number;
}

/** Pushed as a `lab` message on the session channel (protocol/messages.ts) on attach and on every change: its one route to the page. */
export interface LabProgress {
  steps: StepStatus[];
  /** Index of the current step; equals steps.length once finished. */
  current: number;
  finished: boolean;
  /** A check is running now. */
  checking: boolean;
  feedback?: CheckFeedback;
  /** A resumed lab: the steps the learner had passed are being replayed on the fresh box (no checks run meanwhile). */
  replay?: ReplayState;
}

/** A problem that keeps a lab's files from loading (`npm run labs -- validate` prints the same ones). */
export interface LabFileProblem {
  /** Path from the labs folder: hello/steps/01-file.md */
  file: string;
  line: number;
  message: string;
  /** Index of the step whose file it is (in the version running now); absent for lab-level files (lab.yaml, intro.md...). */
  step?: number;
}

/**
 * Live reload (`npm run labs -- dev <lab>` only; never sent in normal serving): the lab's files changed
 * on disk. Sent on the session channel after each reload, and to a page that connects later (after
 * `lab`). The page shows `content` in place of what GET /api/sessions/:id/lab gave it, keeping the terminal.
 */
export interface LabChangedMessage {
  type: 'lab-changed';
  /** The version running now: the new one, or the last good one while `problems` is not empty. */
  content: LabContent;
  /** Why the files on disk do not load; empty once they do (the page then clears what it showed). */
  problems: LabFileProblem[];
  /** What the reload did to the progress or could not apply, in words for the author. */
  notes: string[];
}

/** Everything the session channel sends: the protocol's server messages, plus live reload's `lab-changed`. */
export type SessionChannelMessage = ServerMessage | LabChangedMessage | LifetimeMessage;

/** POST /api/sessions/:id/steps/:n/solution (Bearer): for "show me", which types it into `terminal`. */
export interface StepSolution { terminal: string; solution: string }

/** A lab host's port, opened in a new tab through the server: /p/<session>/<host>/<port>/<path>. */
export function portPath(session: string, host: string, port: number, rest = '/'): string {
  return `/p/${encodeURIComponent(session)}/${encodeURIComponent(host)}/${port}${rest.startsWith('/') ? rest : `/${rest}`}`;
}

// ---- recordings ----

export interface RecordingInfo {
  id: string;
  /** Unguessable id for the read-only share link /watch/<share> and embed /embed/<share>. */
  share: string;
  lab: string;
  terminal: string;
  title: string;
  createdAt: number;
  durationS: number;
  bytes: number;
  /** Keystrokes were recorded too ("i" events): only when the learner asked. */
  input: boolean;
  /** Still being written. */
  recording: boolean;
  /** Why it stopped by itself, when a limit stopped it ("reached its 64 MiB limit"). */
  stopped?: string;
}

/** POST /api/sessions/:id/terminals/:terminal/recording (Bearer) with { on, input? } → RecordingInfo (on) or 204 (off). */
export interface RecordingRequest { on: boolean; input?: boolean }

/** GET /api/recordings[?lab=ID]: this browser's recordings. */
export interface RecordingListResponse { recordings: RecordingInfo[] }
