// A learner's own history (the learner cookie names them, learner.ts) and the public check of a
// proof of completion. Writes are few per address: a stream of new cookies must not turn into a
// stream of rows.
import express, { type Request, type Response } from 'express';
import { NAME_MAX, type NameRequest } from '../../protocol/history.js';
import type { Config } from '../config.js';
import type { HistoryService } from '../history/history-service.js';
import { KeyedBuckets } from '../sessions/token-bucket.js';
import { clientIp } from './client-ip.js';
import { learnerId } from './learner.js';

type ApiErrorFn = (res: Response, status: number, code: string, error: string) => void;

/** A display name as shown on a proof: no control characters, no runs of spaces, at most NAME_MAX characters. */
export function cleanName(raw: string): string {
  // eslint-disable-next-line no-control-regex
  return raw.replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069]/g, '').replace(/\s+/g, ' ').trim();
}

export function historyRoutes(opts: { config: Config; history: HistoryService; apiError: ApiErrorFn }): express.Router {
  const { config, history, apiError } = opts;
  const router = express.Router();
  const writes = new KeyedBuckets(config.history.writesPerMinute / 60, config.history.writesPerMinute);

  /** Spends one of the address's writes; answers 429 and returns false when there is none. */
  const admitWrite = (req: Request, res: Response): boolean => {
    const waitMs = writes.take(clientIp(req, config.trustProxy));
    if (waitMs === 0) return true;
    res.set('Retry-After', String(Math.ceil(waitMs / 1000)));
    apiError(res, 429, 'too-many-writes', 'too many changes from this address; wait a minute and try again');
    return false;
  };

  router.get('/me', async (req, res) => {
    res.set('Cache-Control', 'no-store').json(await history.list(learnerId(req)));
  });

  router.put('/me', async (req, res) => {
    const name = (req.body as Partial<NameRequest> | undefined)?.name;
    if (typeof name !== 'string') return apiError(res, 400, 'bad-request', 'send JSON: {"name": "<your name>"} ("" to clear it)');
    const clean = cleanName(name);
    if ([...clean].length > NAME_MAX) return apiError(res, 400, 'name-too-long', `a name has at most ${NAME_MAX} characters`);
    if (!admitWrite(req, res)) return;
    await history.setName(learnerId(req), clean);
    res.json(await history.list(learnerId(req)));
  });

  router.delete('/me', async (req, res) => {
    if (!admitWrite(req, res)) return;
    await history.erase(learnerId(req));
    res.status(204).end();
  });

  // Public: anyone holding the link may check it (a teacher the learner sent it to).
  router.get('/completions/:token', async (req, res) => {
    const answer = await history.verify(String(req.params.token));
    if ('malformed' in answer) return apiError(res, 400, 'bad-token', answer.malformed);
    res.set('Cache-Control', 'no-store').json(answer);
  });

  return router;
}
