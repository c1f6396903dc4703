// Workshops: an instructor runs a live session for a room of learners (docs/workshops.md).
// Shapes shared by web/ and server/: HTTP bodies, the dashboard's event stream, the roles.
// This module runs in the browser and in Node: no DOM, no Node APIs, no zod.
import type { SessionInfo } from './api.js';

/** Join codes: 6 characters read aloud in a room, so no 0/O, 1/I/L look-alikes. */
export const JOIN_CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
export const JOIN_CODE_LENGTH = 6;
export const MAX_SEATS = 200;
export const MAX_DISPLAY_NAME = 40;
export const MAX_BROADCAST_CHARS = 2000;

/** instructor: everything; assistant: view, no control, no reset, no end; learner: own seat only. */
export type WorkshopRole = 'instructor' | 'assistant' | 'learner';

/** scheduled: before the join window; open: learners may join; ended: boxes gone, report kept. */
export type WorkshopPhase = 'scheduled' | 'open' | 'ended';

// ---- creating ----

/** POST /api/workshops (Authorization: Bearer <admin token> when the operator set TERMLAB_ADMIN_TOKEN). */
export interface CreateWorkshopRequest {
  title: string;
  /** Lab ids, in the order the room does them. */
  labs: string[];
  seats: number;
  /** Epoch ms; default now. */
  startsAt?: number;
  /** Epoch ms; default startsAt + 2 h. */
  endsAt?: number;
  /** Pace the room: steps after the unlocked one cannot be checked yet. */
  paced?: boolean;
}

/**
 * 201 answer. The instructor and assistant links carry secrets, shown once: opening one sets an
 * HttpOnly cookie scoped to this workshop and redirects to a URL without the secret.
 */
export interface CreateWorkshopResponse {
  id: string;
  code: string;
  learnerUrl: string;
  instructorUrl: string;
  assistantUrl: string;
}

// ---- joining (learners) ----

/** GET /api/w/:code: what the join page shows (public; rate limited per address). */
export interface WorkshopJoinInfo {
  code: string;
  title: string;
  labs: Array<{ id: string; title: string }>;
  seats: number;
  taken: number;
  phase: WorkshopPhase;
  startsAt: number;
  endsAt: number;
  /** This browser already holds a seat here (the learner cookie): joining again returns to it. */
  mySeat?: string;
}

/** POST /api/w/:code/join { name } → 200 JoinResponse; 409 full / not open / ended, with ApiError. */
export interface JoinRequest { name: string }
export interface JoinResponse {
  /** The workshop's id (GET /api/workshops/:id answers the learner with their own row). Added with the server side. */
  workshop?: string;
  seat: string;
  name: string;
  /** The seat's lab session (its token is this learner's; the same box on every return). */
  session: SessionInfo;
}

// ---- the room, as the dashboard sees it ----

/** A seat's state on one step. failing: its last check failed. */
export type SeatStepState = 'not-reached' | 'current' | 'passed' | 'failing';

export interface SeatStep {
  state: SeatStepState;
  /** When the learner reached this step (epoch ms). */
  since?: number;
  passedAt?: number;
  attempts: number;
  failures: number;
  /** Failures in a row, the latest ones. */
  failStreak: number;
  hintsUsed: number;
}

export interface SeatRow {
  seat: string;
  name: string;
  joinedAt: number;
  /** The lab this seat is on (one of the workshop's). */
  lab: string;
  steps: SeatStep[];
  current: number;
  finished: boolean;
  hand: boolean;
  stuck: boolean;
  /** Why it is flagged stuck ("12 min on step 3, class median 4 min", "4 failed checks in a row"). */
  stuckReason?: string;
  /** Someone is viewing this seat's terminal now. */
  viewers: number;
  /** Who types into the learner's terminal: the learner, or the instructor (with consent). */
  control: 'learner' | 'instructor';
  /** The learner's page is connected now. */
  online: boolean;
  /** Recording ids of this seat (for the report's links). */
  recordings: string[];
}

export interface StepSummary { title: string; passed: number; medianMs?: number }

export interface WorkshopState {
  id: string;
  code: string;
  title: string;
  role: WorkshopRole;
  phase: WorkshopPhase;
  startsAt: number;
  endsAt: number;
  seats: number;
  labs: Array<{ id: string; title: string; steps: StepSummary[] }>;
  rows: SeatRow[];
  /** Boxes started and waiting for a seat (the reserve included). */
  warm: number;
  /** Paced rooms: steps after this one (1-based) cannot be checked yet. */
  unlockedStep?: number;
  serverTime: number;
}

/**
 * GET /api/workshops/:id/events: Server-Sent Events, one JSON WorkshopEvent per `data:`, each with
 * `id: <seq>`. A reconnecting EventSource sends Last-Event-ID and gets every event after it, in
 * order, exactly once; if they are no longer kept it gets a fresh `state` first.
 */
export type WorkshopEvent =
  | { type: 'state'; state: WorkshopState }
  | { type: 'seat'; row: SeatRow }
  | { type: 'workshop'; phase: WorkshopPhase; endsAt: number; warm: number; unlockedStep?: number }
  | { type: 'broadcast'; message: string; at: number };

// ---- instructor actions: POST /api/workshops/:id/<action> (cookie role; 403 for a role without it) ----
export interface BroadcastRequest { message: string }
export interface ExtendRequest { minutes: number }
export interface PaceRequest { unlockedStep: number }
/** POST .../seats/:seat/reset, .../seats/:seat/control { on }, POST .../end: no body. */
export interface ControlRequest { on: boolean }

/** GET /api/workshops/:id/report → ReportRow[] (JSON) or ?format=csv. */
export interface ReportRow {
  seat: string;
  name: string;
  lab: string;
  step: number;
  stepTitle: string;
  status: SeatStepState;
  attempts: number;
  failures: number;
  firstPassAt?: number;
  timeSpentMs: number;
  hintsUsed: number;
  recordingUrl?: string;
}

// ---- what a learner's page hears on its session channel during a workshop ----

/** Sent on the session channel (protocol/messages.ts SessionMessage) to a seated learner. */
export type SeatNotice =
  | { kind: 'workshop'; title: string; endsAt: number; phase: WorkshopPhase; unlockedStep?: number }
  | { kind: 'broadcast'; message: string; at: number }
  | { kind: 'hand'; raised: boolean }
  | { kind: 'viewers'; count: number }
  | { kind: 'control'; state: 'requested' | 'instructor' | 'learner' }
  | { kind: 'ending'; at: number };

// ---- added with the server side (additive) ----

/** POST /api/workshops/:id/seats/:seat/view (instructor or assistant cookie) → a single-use view ticket. */
export interface ViewResponse {
  /** Send as the token of a `view` hello on the WebSocket within a minute. */
  ticket: string;
  /** The seat session's terminal ids. */
  terminals: string[];
}

/** POST /api/sessions/:id/hand (the learner's Bearer token). */
export interface HandRequest { raised: boolean }

/** POST /api/sessions/:id/hints/:step (Bearer; step 1-based) optionally names the hint opened (0-based). */
export interface HintRequest { hint?: number }
