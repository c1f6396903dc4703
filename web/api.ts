// The HTTP API, served by the termlab server at the page's origin (shapes in protocol/api.ts).
import type {
  ApiError, CreateSessionRequest, LabContent, LabListResponse, RecordingInfo, RecordingListResponse,
  RecordingRequest, SessionInfo, StepSolution,
} from '../protocol/api.js';
import type { CompletionResponse, ExtendResponse, HistoryResponse, NameRequest } from '../protocol/history.js';
import type { ProfileStatusResponse } from '../protocol/preparation.js';
import type { HandRequest, HintRequest } from '../protocol/workshops.js';

/** A failed API call: `status` is the HTTP status (0 when the server could not be reached). */
export class ApiRequestError extends Error {
  constructor(message: string, readonly status: number, readonly code: string) {
    super(message);
    this.name = 'ApiRequestError';
  }
}

export function isApiError(value: unknown): value is ApiError {
  return typeof value === 'object' && value !== null
    && typeof (value as ApiError).error === 'string' && typeof (value as ApiError).code === 'string';
}

/** Waits before each new try of a GET that did not reach the server (see request). */
const GET_RETRY_DELAYS_MS = [250, 1000];

/**
 * One API call. A GET that does not reach the server is tried again twice: browsers abort what
 * is loading when a network interface changes (on the server's own host, every box start brings
 * one), and a GET can be repeated safely. Anything else fails at once: a POST may have arrived.
 */
export async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const retries = (init.method ?? 'GET').toUpperCase() === 'GET' ? GET_RETRY_DELAYS_MS : [];
  let res: Response | undefined;
  for (let attempt = 0; !res; attempt++) {
    try {
      res = await fetch(path, { ...init, headers: { Accept: 'application/json', ...init.headers } });
    } catch (err) {
      if (init.signal?.aborted) throw err;
      const delay = retries[attempt];
      if (delay === undefined) throw new ApiRequestError('Cannot reach the termlab server. Check your connection and try again.', 0, 'network');
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
  if (res.ok) return res;
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  if (isApiError(body)) throw new ApiRequestError(body.error, res.status, body.code);
  throw new ApiRequestError(`The server answered ${res.status} ${res.statusText}`.trim(), res.status, 'http');
}

function bearer(token: string): HeadersInit {
  return { Authorization: `Bearer ${token}` };
}

function jsonBearer(token: string): HeadersInit {
  return { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
}

/** GET /api/labs */
export async function listLabs(signal?: AbortSignal): Promise<LabListResponse> {
  const res = await request('/api/labs', { signal });
  return (await res.json()) as LabListResponse;
}

/** GET /api/profiles: sandbox profiles still being prepared (or failed to) after the server started. */
export async function getProfileStatus(signal?: AbortSignal): Promise<ProfileStatusResponse> {
  const res = await request('/api/profiles', { signal });
  return (await res.json()) as ProfileStatusResponse;
}

/** How to start a lab: `resume` continues this browser's unfinished attempt at it instead of beginning a new one. */
export interface CreateSessionOptions {
  resume?: boolean;
  signal?: AbortSignal;
}

/**
 * POST /api/sessions: starts a box for the lab (can take a second or more), a new attempt. With
 * `resume`: the unfinished attempt's running box back as it is, or a fresh box that the session
 * channel shows being brought to the step reached (LabProgress.replay); refused with 409
 * `nothing-to-resume` or `cannot-resume` (the message says why). A bare AbortSignal is still taken.
 */
export async function createSession(lab: string, options: CreateSessionOptions | AbortSignal = {}): Promise<SessionInfo> {
  const { resume, signal } = options instanceof AbortSignal ? { resume: false, signal: options } : options;
  const body: CreateSessionRequest = resume ? { lab, resume: true } : { lab };
  const res = await request('/api/sessions', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    signal,
  });
  return (await res.json()) as SessionInfo;
}

/** GET /api/sessions/:id; resolves to undefined when the session is gone (404). */
export async function getSession(id: string, token: string, signal?: AbortSignal): Promise<SessionInfo | undefined> {
  try {
    const res = await request(`/api/sessions/${encodeURIComponent(id)}`, { headers: bearer(token), signal });
    return (await res.json()) as SessionInfo;
  } catch (err) {
    if (err instanceof ApiRequestError && err.status === 404) return undefined;
    throw err;
  }
}

/** DELETE /api/sessions/:id; a session that is already gone (404) counts as deleted. */
export async function deleteSession(id: string, token: string): Promise<void> {
  try {
    await request(`/api/sessions/${encodeURIComponent(id)}`, { method: 'DELETE', headers: bearer(token) });
  } catch (err) {
    if (err instanceof ApiRequestError && err.status === 404) return;
    throw err;
  }
}

function sessionPath(id: string, rest = ''): string {
  return `/api/sessions/${encodeURIComponent(id)}${rest}`;
}

/** GET /api/sessions/:id/lab: the guide's content (title, intro, steps, terminals, ...). */
export async function getLab(id: string, token: string, signal?: AbortSignal): Promise<LabContent> {
  const res = await request(sessionPath(id, '/lab'), { headers: bearer(token), signal });
  return (await res.json()) as LabContent;
}

/**
 * POST /api/sessions/:id/check: asks for a check of the current step now. The answer is only an
 * acknowledgement: the outcome arrives on the session channel (`lab`), the one source of progress.
 */
export async function checkStep(id: string, token: string): Promise<void> {
  await request(sessionPath(id, '/check'), { method: 'POST', headers: bearer(token) });
}

/** POST /api/sessions/:id/hints/:step, `step` counted from 1: the learner opened hint `hint` (from 0) of this step. */
export async function reportHint(id: string, token: string, step: number, hint: number): Promise<void> {
  const body: HintRequest = { hint };
  await request(sessionPath(id, `/hints/${step}`), { method: 'POST', headers: jsonBearer(token), body: JSON.stringify(body) });
}

/** POST /api/sessions/:id/hand: raises or lowers the learner's hand (workshops). */
export async function setHand(id: string, token: string, raised: boolean): Promise<void> {
  const body: HandRequest = { raised };
  await request(sessionPath(id, '/hand'), { method: 'POST', headers: jsonBearer(token), body: JSON.stringify(body) });
}

/** POST /api/sessions/:id/control: the learner grants (or refuses, or takes back) the instructor's control of the terminal. */
export async function grantControl(id: string, token: string, grant: boolean): Promise<void> {
  await request(sessionPath(id, '/control'), { method: 'POST', headers: jsonBearer(token), body: JSON.stringify({ grant }) });
}

/** POST /api/sessions/:id/steps/:n/solution, `step` counted from 1: what "Show me" types, and where. */
export async function getStepSolution(id: string, token: string, step: number): Promise<StepSolution> {
  const res = await request(sessionPath(id, `/steps/${step}/solution`), { method: 'POST', headers: bearer(token) });
  return (await res.json()) as StepSolution;
}

/**
 * POST /api/sessions/:id/extend: more time before the box is removed. 409 `no-extensions` when
 * none are left, 403 `workshop-seat` for a workshop's seat (its workshop decides).
 */
export async function extendSession(id: string, token: string): Promise<ExtendResponse> {
  const res = await request(sessionPath(id, '/extend'), { method: 'POST', headers: bearer(token) });
  return (await res.json()) as ExtendResponse;
}

// ---- this browser's history (the learner cookie names the browser) ----

/** GET /api/me: this browser's attempts, newest first, and its display name. */
export async function getHistory(signal?: AbortSignal): Promise<HistoryResponse> {
  const res = await request('/api/me', { signal });
  return (await res.json()) as HistoryResponse;
}

/** PUT /api/me: the display name shown on completion pages ('' clears it). */
export async function setName(name: string): Promise<HistoryResponse> {
  const body: NameRequest = { name };
  const res = await request('/api/me', {
    method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  return (await res.json()) as HistoryResponse;
}

/** DELETE /api/me: erases this browser's history (attempts, name; its completions stop verifying). */
export async function eraseHistory(): Promise<void> {
  await request('/api/me', { method: 'DELETE' });
}

/**
 * GET /api/completions/:token: whether this server issued the proof, and what it states. A
 * malformed token is a 400 (`bad-token`), thrown like every failure.
 */
export async function getCompletion(token: string, signal?: AbortSignal): Promise<CompletionResponse> {
  const res = await request(`/api/completions/${encodeURIComponent(token)}`, { signal });
  return (await res.json()) as CompletionResponse;
}

// ---- recordings ----

/**
 * POST /api/sessions/:id/terminals/:terminal/recording: starts recording the terminal (keystrokes
 * too when `input`), resolving to the recording; or stops it, resolving to undefined.
 */
export async function setRecording(session: string, token: string, terminal: string, on: boolean, input = false): Promise<RecordingInfo | undefined> {
  const body: RecordingRequest = on ? { on, input } : { on };
  const res = await request(sessionPath(session, `/terminals/${encodeURIComponent(terminal)}/recording`), {
    method: 'POST',
    headers: { ...bearer(token), 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return on ? ((await res.json()) as RecordingInfo) : undefined;
}

/** GET /api/recordings[?lab=ID]: this browser's recordings (the learner cookie names the browser), newest first. */
export async function listRecordings(lab?: string, signal?: AbortSignal): Promise<RecordingInfo[]> {
  const res = await request(`/api/recordings${lab ? `?lab=${encodeURIComponent(lab)}` : ''}`, { signal });
  return ((await res.json()) as RecordingListResponse).recordings;
}

/** GET /api/recordings/:id: one of this browser's recordings. */
export async function getRecording(id: string, signal?: AbortSignal): Promise<RecordingInfo> {
  const res = await request(`/api/recordings/${encodeURIComponent(id)}`, { signal });
  return (await res.json()) as RecordingInfo;
}

/** DELETE /api/recordings/:id (stops it first if it is still running); gone already (404) counts as deleted. */
export async function deleteRecording(id: string): Promise<void> {
  try {
    await request(`/api/recordings/${encodeURIComponent(id)}`, { method: 'DELETE' });
  } catch (err) {
    if (err instanceof ApiRequestError && err.status === 404) return;
    throw err;
  }
}

/** GET /api/shared/:share: the recording a share link names (anyone with the link may watch it). */
export async function getSharedRecording(share: string, signal?: AbortSignal): Promise<RecordingInfo> {
  const res = await request(`/api/shared/${encodeURIComponent(share)}`, { signal });
  return (await res.json()) as RecordingInfo;
}

/** Where the .cast files are: one's own (a download, as an attachment), a shared one, a lab's walkthrough. */
export const castUrl = {
  recording: (id: string) => `/api/recordings/${encodeURIComponent(id)}/cast`,
  shared: (share: string) => `/api/shared/${encodeURIComponent(share)}/cast`,
  walkthrough: (lab: string) => `/api/labs/${encodeURIComponent(lab)}/walkthrough.cast`,
};

/** The read-only page (/watch/<share>) and the frameable player (/embed/<share>) of a shared recording, absolute. */
export const shareUrl = {
  watch: (share: string) => new URL(`/watch/${encodeURIComponent(share)}`, location.origin).href,
  embed: (share: string) => new URL(`/embed/${encodeURIComponent(share)}`, location.origin).href,
};

/** The text of a .cast file; failures throw ApiRequestError with the server's message. */
export async function fetchCastText(url: string, signal?: AbortSignal): Promise<string> {
  const res = await request(url, { signal, headers: { Accept: 'application/x-asciicast, text/plain, */*' } });
  return res.text();
}

export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
