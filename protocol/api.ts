// Shapes of the HTTP API (JSON), shared by web/ and server/.

export type SandboxProfile = 'shell' | 'docker';

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
}

/** GET /api/labs */
export interface LabListResponse { labs: LabSummary[] }

/** POST /api/sessions with body { lab } */
export interface CreateSessionRequest { lab: string }
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
}

/** Any failed API call answers with this body and a 4xx/5xx status. */
export interface ApiError { error: string; code: string }

export const WS_PATH = '/ws';
