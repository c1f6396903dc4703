// HTTP for recordings: start/stop on a session terminal, this browser's list, download, delete,
// read-only shared access by an unguessable id, and the labs' walkthroughs.
import fs from 'node:fs';
import path from 'node:path';
import { Router, type Request, type Response } from 'express';
import type { RecordingListResponse, RecordingRequest } from '../../protocol/api.js';
import { WALKTHROUGH_FILE } from '../labs/lab-format.js';
import type { Lab } from '../labs/lab-loader.js';
import { RecordingRefused, type RecordingService } from '../recordings/recording-service.js';
import type { SessionManager } from '../sessions/session-manager.js';
import type { Session } from '../sessions/session.js';
import { learnerId } from './learner.js';

type ApiErrorFn = (res: Response, status: number, code: string, error: string) => void;

/**
 * Sends a .cast file; with `bytes`, only its first `bytes` (a recording's file is served up to what
 * was written as whole events, never a half-written line nor anything appended after).
 */
function sendCast(res: Response, file: string, downloadName?: string, bytes?: number): void {
  res.type('application/x-asciicast');
  if (downloadName) res.attachment(downloadName);
  if (bytes !== undefined) {
    let size: number;
    try { size = fs.statSync(file).size; } catch { return void res.status(404).end(); }
    const send = Math.min(bytes, size);
    res.setHeader('content-length', String(send));
    if (send === 0) return void res.end();
    return void fs.createReadStream(file, { end: send - 1 }).on('error', () => res.destroy()).pipe(res);
  }
  fs.createReadStream(file).on('error', () => res.status(404).end()).pipe(res);
}

export function recordingRoutes(opts: {
  sessions: SessionManager; recordings: RecordingService; labs: () => Map<string, Lab>;
  authorised: (req: Request) => Session | undefined; apiError: ApiErrorFn;
}): Router {
  const { recordings, labs, authorised, apiError } = opts;
  const store = recordings.store;
  const r = Router();

  r.post('/sessions/:id/terminals/:terminal/recording', async (req, res) => {
    const session = authorised(req);
    if (!session) return apiError(res, 404, 'no-session', 'no live session with this id and token');
    const terminal = String(req.params.terminal);
    if (!session.hasTerminal(terminal)) return apiError(res, 404, 'no-terminal', `the session has no terminal "${terminal}"`);
    const body = req.body as Partial<RecordingRequest> | undefined;
    if (typeof body?.on !== 'boolean') return apiError(res, 400, 'bad-request', 'send {"on": true|false, "input": false}');
    if (body.on) {
      try {
        return res.status(201).json(await recordings.start(session, terminal, learnerId(req), body.input === true));
      } catch (err) {
        if (err instanceof RecordingRefused) return apiError(res, err.status, err.code, err.message);
        throw err;
      }
    }
    await recordings.stop(session.id, terminal);
    res.status(204).end();
  });

  r.get('/recordings', async (req, res) => {
    const lab = typeof req.query.lab === 'string' ? req.query.lab : undefined;
    const body: RecordingListResponse = { recordings: await store.list(learnerId(req), lab) };
    res.json(body);
  });

  r.get('/recordings/:id', async (req, res) => {
    const info = await store.ownedBy(String(req.params.id), learnerId(req));
    if (!info) return apiError(res, 404, 'no-recording', 'no recording of yours has this id');
    res.json(info);
  });

  r.get('/recordings/:id/cast', async (req, res) => {
    const info = await store.ownedBy(String(req.params.id), learnerId(req));
    if (!info) return apiError(res, 404, 'no-recording', 'no recording of yours has this id');
    const day = new Date(info.createdAt).toISOString().slice(0, 10);
    sendCast(res, store.file(info.id), `${info.lab}-${info.terminal}-${day}.cast`, recordings.servable(info));
  });

  r.delete('/recordings/:id', async (req, res) => {
    const info = await store.ownedBy(String(req.params.id), learnerId(req));
    if (!info) return apiError(res, 404, 'no-recording', 'no recording of yours has this id');
    await recordings.stopById(info.id);
    await store.delete(info.id);
    res.status(204).end();
  });

  r.get('/shared/:share', async (req, res) => {
    const info = await store.byShare(String(req.params.share));
    if (!info) return apiError(res, 404, 'no-recording', 'this share link does not name a recording (it may have been deleted)');
    res.json(info);
  });

  r.get('/shared/:share/cast', async (req, res) => {
    const info = await store.byShare(String(req.params.share));
    if (!info) return apiError(res, 404, 'no-recording', 'this share link does not name a recording (it may have been deleted)');
    sendCast(res, store.file(info.id), undefined, recordings.servable(info));
  });

  r.get('/labs/:id/walkthrough.cast', (req, res) => {
    const lab = labs().get(String(req.params.id));
    const file = lab && path.join(lab.dir, WALKTHROUGH_FILE);
    if (!lab || !file || !fs.existsSync(file)) return apiError(res, 404, 'no-walkthrough', 'this lab has no walkthrough recording');
    sendCast(res, file);
  });

  return r;
}
