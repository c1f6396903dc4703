// HTTP for recordings: start/stop on a session terminal, this browser's list, download, delete,
// read-only shared access by an unguessable id, and the labs' walkthroughs.
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream';
import { Router, type Request, type Response } from 'express';
import type { RecordingListResponse, RecordingRequest } from '../../protocol/api.js';
import { WALKTHROUGH_FILE } from '../labs/lab-format.js';
import type { Lab } from '../labs/lab-loader.js';
import { RecordingRefused, type RecordingService } from '../recordings/recording-service.js';
import type { RecordingStore } from '../recordings/recording-store.js';
import type { SessionManager } from '../sessions/session-manager.js';
import type { Session } from '../sessions/session.js';
import { learnerId } from './learner.js';

type ApiErrorFn = (res: Response, status: number, code: string, error: string) => void;

/** Sends a lab's walkthrough .cast file. */
function sendCastFile(res: Response, file: string): void {
  res.type('application/x-asciicast');
  fs.createReadStream(file).on('error', () => res.status(404).end()).pipe(res);
}

/**
 * Sends a recording from the store (a file, or the database's chunks), up to `limit` bytes when
 * given: a recording is served up to what was stored as whole events, never a half-written line
 * nor anything appended after.
 */
async function sendRecording(res: Response, store: RecordingStore, id: string, limit: number | undefined, downloadName?: string): Promise<void> {
  const cast = await store.read(id, limit);
  if (!cast) return void res.status(404).end();
  res.type('application/x-asciicast');
  if (downloadName) res.attachment(downloadName);
  res.setHeader('content-length', String(cast.size));
  if (cast.size === 0) return void res.end();
  // Deleted while it is sent: the response is cut, not completed short of its length; a client that
  // leaves stops the reading (no more queries for a database's chunks).
  pipeline(cast.body, res, () => {});
}

export function recordingRoutes(opts: {
  sessions: SessionManager; recordings: RecordingService; labs: () => Map<string, Lab>;
  authorised: (req: Request) => Promise<Session | undefined>; apiError: ApiErrorFn;
}): Router {
  const { recordings, labs, authorised, apiError } = opts;
  const store = recordings.store;
  const r = Router();

  r.post('/sessions/:id/terminals/:terminal/recording', async (req, res) => {
    const session = await authorised(req);
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
    await sendRecording(res, store, info.id, recordings.servable(info), `${info.lab}-${info.terminal}-${day}.cast`);
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
    await sendRecording(res, store, info.id, recordings.servable(info));
  });

  r.get('/labs/:id/walkthrough.cast', (req, res) => {
    const lab = labs().get(String(req.params.id));
    const file = lab && path.join(lab.dir, WALKTHROUGH_FILE);
    if (!lab || !file || !fs.existsSync(file)) return apiError(res, 404, 'no-walkthrough', 'this lab has no walkthrough recording');
    sendCastFile(res, file);
  });

  return r;
}
