// The workshop HTTP API (shapes in protocol/workshops.ts). The instructor's and assistants' calls
// are authorised by the HttpOnly cookie their link set; learners use their session's Bearer token.
import type {
  BroadcastRequest, ControlRequest, CreateWorkshopRequest, CreateWorkshopResponse, ExtendRequest, JoinRequest, JoinResponse,
  PaceRequest, ReportRow, ViewResponse, WorkshopJoinInfo,
} from '../protocol/workshops.js';
import { request } from './api.js';

function json(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

const workshopPath = (id: string, rest = '') => `/api/workshops/${encodeURIComponent(id)}${rest}`;
const seatPath = (id: string, seat: string, rest: string) => workshopPath(id, `/seats/${encodeURIComponent(seat)}${rest}`);

/** POST /api/workshops (with the operator's admin token when one is set). */
export async function createWorkshop(body: CreateWorkshopRequest, adminToken?: string): Promise<CreateWorkshopResponse> {
  const res = await request('/api/workshops', json(body, adminToken ? { Authorization: `Bearer ${adminToken}` } : {}));
  return (await res.json()) as CreateWorkshopResponse;
}

/** GET /api/w/:code: what the join page shows. */
export async function getJoinInfo(code: string, signal?: AbortSignal): Promise<WorkshopJoinInfo> {
  const res = await request(`/api/w/${encodeURIComponent(code)}`, { signal });
  return (await res.json()) as WorkshopJoinInfo;
}

/** POST /api/w/:code/join: a seat (the same one again for a returning browser) and its lab session. */
export async function joinWorkshop(code: string, name: string): Promise<JoinResponse> {
  const body: JoinRequest = { name };
  const res = await request(`/api/w/${encodeURIComponent(code)}/join`, json(body));
  return (await res.json()) as JoinResponse;
}

/**
 * POST /api/sessions/:id/next-lab (the seat's own Bearer token): a learner who finished the lab moves to
 * the workshop's next one, on a new session (a new box) on the same seat; the finished session ends.
 */
export async function nextLab(sessionId: string, token: string): Promise<JoinResponse> {
  const res = await request(`/api/sessions/${encodeURIComponent(sessionId)}/next-lab`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
  return (await res.json()) as JoinResponse;
}

export const workshopActions = {
  broadcast: (id: string, message: string) => request(workshopPath(id, '/broadcast'), json({ message } satisfies BroadcastRequest)),
  extend: (id: string, minutes: number) => request(workshopPath(id, '/extend'), json({ minutes } satisfies ExtendRequest)),
  pace: (id: string, unlockedStep: number) => request(workshopPath(id, '/pace'), json({ unlockedStep } satisfies PaceRequest)),
  end: (id: string) => request(workshopPath(id, '/end'), { method: 'POST' }),
  reset: (id: string, seat: string) => request(seatPath(id, seat, '/reset'), { method: 'POST' }),
  control: (id: string, seat: string, on: boolean) => request(seatPath(id, seat, '/control'), json({ on } satisfies ControlRequest)),
};

/** POST /api/workshops/:id/seats/:seat/view: a single-use ticket for a read-only view of the seat's terminal. */
export async function viewTicket(id: string, seat: string): Promise<ViewResponse> {
  const res = await request(seatPath(id, seat, '/view'), { method: 'POST' });
  return (await res.json()) as ViewResponse;
}

/** GET /api/workshops/:id/report (JSON rows). */
export async function getReport(id: string, signal?: AbortSignal): Promise<ReportRow[]> {
  const res = await request(workshopPath(id, '/report'), { signal });
  return (await res.json()) as ReportRow[];
}

export const workshopUrls = {
  events: (id: string) => workshopPath(id, '/events'),
  csv: (id: string) => workshopPath(id, '/report?format=csv'),
};
