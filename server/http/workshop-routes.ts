// HTTP for workshops: creating one (admin token), the instructor and assistant links, joining by
// code, the dashboard's state and event stream, the instructor's actions, the report, and the
// learner's hand and hints. Who may do what: docs/workshops.md ("Roles").
import crypto from 'node:crypto';
import { Router, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import {
  MAX_BROADCAST_CHARS, MAX_DISPLAY_NAME, MAX_SEATS, type CreateWorkshopResponse, type WorkshopRole,
} from '../../protocol/workshops.js';
import type { Config } from '../config.js';
import type { Metrics } from '../metrics.js';
import { SessionError } from '../sessions/session-manager.js';
import type { Session } from '../sessions/session.js';
import { CodeGuard } from '../workshops/code-guard.js';
import { reportCsv } from '../workshops/report.js';
import { isJoinCode, normaliseCode } from '../workshops/secrets.js';
import { serveEvents } from '../workshops/sse.js';
import { WorkshopError, type WorkshopService } from '../workshops/workshop-service.js';
import { clientIp } from './client-ip.js';
import { learnerId, readCookie } from './learner.js';

type ApiErrorFn = (res: Response, status: number, code: string, error: string) => void;

const HOUR = 60 * 60 * 1000;
/** The role cookie outlives the workshop by this much, for its report. */
const COOKIE_AFTER_END_MS = 30 * 24 * HOUR;

const createSchema = z.object({
  title: z.string().trim().min(1, 'give the workshop a title').max(120, 'the title is longer than 120 characters'),
  labs: z.array(z.string().min(1)).min(1, 'pick at least one lab').max(20, 'at most 20 labs'),
  seats: z.number().int('seats must be a whole number').min(1, 'at least 1 seat').max(MAX_SEATS, `at most ${MAX_SEATS} seats`),
  startsAt: z.number().int().positive().optional(),
  endsAt: z.number().int().positive().optional(),
  paced: z.boolean().optional(),
});
const joinSchema = z.object({
  // Control characters would let a name rewrite the dashboard's or a spreadsheet's lines.
  name: z.string().transform((s) => s.replace(/[\p{Cc}\p{Cf}]/gu, '').trim())
    .pipe(z.string().min(1, 'give a display name').max(MAX_DISPLAY_NAME, `a display name has at most ${MAX_DISPLAY_NAME} characters`)),
});
const broadcastSchema = z.object({ message: z.string().trim().min(1, 'the message is empty').max(MAX_BROADCAST_CHARS, `at most ${MAX_BROADCAST_CHARS} characters`) });
const extendSchema = z.object({ minutes: z.number().int('whole minutes').min(1, 'at least 1 minute').max(240, 'at most 240 minutes at a time') });
const paceSchema = z.object({ unlockedStep: z.number().int().min(1, 'steps start at 1').max(200) });
const controlSchema = z.object({ on: z.boolean() });
const handSchema = z.object({ raised: z.boolean() });
const hintSchema = z.object({ hint: z.number().int().min(0).max(100).optional() }).optional();

function problem(err: z.ZodError): string {
  const issue = err.issues[0];
  return issue ? `${issue.path.join('.') || 'body'}: ${issue.message}` : 'invalid body';
}

function cookieName(workshop: string): string { return `tl_ws_${workshop}`; }

function sameSecret(a: string, b: string): boolean {
  const ha = crypto.createHash('sha256').update(a).digest();
  const hb = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(ha, hb);
}

export function workshopRoutes(opts: {
  config: Config; workshops: WorkshopService; metrics?: Metrics; apiError: ApiErrorFn;
  /** The session named in the path, if the request's Bearer token is its own. */
  authorised: (req: Request) => Promise<Session | undefined>;
}): Router {
  const { config, workshops, apiError, authorised } = opts;
  const guard = new CodeGuard(config.workshops.codeAttemptsPerMinute);
  const r = Router();


  /** The caller's role in the workshop named in the path; answers 404 (or 403) itself when none fits. */
  const roleOf = async (req: Request, res: Response, allowed: WorkshopRole[], action: string): Promise<{ id: string; role: WorkshopRole; seat?: string } | undefined> => {
    const id = String(req.params.id);
    const found = await workshops.role(id, readCookie(req, cookieName(id)), learnerId(req));
    // Not "forbidden": a workshop one holds no key to is not told to exist.
    if (!found) return void apiError(res, 404, 'no-workshop', 'no workshop of yours has this id: open your instructor or assistant link again');
    if (!allowed.includes(found.role)) {
      return void apiError(res, 403, 'forbidden', `${found.role === 'assistant' ? 'assistants' : 'learners'} cannot ${action}: ask the instructor`);
    }
    return { id, ...found };
  };

  const parse = <T>(schema: z.ZodType<T>, req: Request, res: Response): T | undefined => {
    const parsed = schema.safeParse(req.body ?? {});
    if (!parsed.success) return void apiError(res, 400, 'bad-request', problem(parsed.error));
    return parsed.data;
  };

  // ---- creating and entering ----

  r.post('/api/workshops', async (req, res) => {
    const admin = config.workshops.adminToken;
    if (admin) {
      const header = req.get('authorization') ?? '';
      if (!header.startsWith('Bearer ') || !sameSecret(header.slice(7), admin)) {
        return apiError(res, 401, 'unauthorised', 'creating a workshop needs the operator\'s admin token: send "Authorization: Bearer <TERMLAB_ADMIN_TOKEN>"');
      }
    }
    const body = parse(createSchema, req, res);
    if (!body) return;
    const now = Date.now();
    const startsAt = body.startsAt ?? now;
    const endsAt = body.endsAt ?? startsAt + 2 * HOUR;
    if (endsAt <= startsAt) return apiError(res, 400, 'bad-request', 'endsAt must be after startsAt');
    if (endsAt <= now) return apiError(res, 400, 'bad-request', 'endsAt is in the past');
    if (endsAt - startsAt > 24 * HOUR) return apiError(res, 400, 'bad-request', 'a workshop lasts at most 24 hours');
    const { record, instructorKey, assistantKey } = await workshops.create({ title: body.title, labs: body.labs, seats: body.seats, startsAt, endsAt, paced: body.paced ?? false });
    const origin = `${req.protocol}://${req.get('host')}`;
    const out: CreateWorkshopResponse = {
      id: record.id, code: record.code, learnerUrl: `${origin}/w/${record.code}`,
      instructorUrl: `${origin}/workshops/${record.id}/enter?k=${instructorKey}`,
      assistantUrl: `${origin}/workshops/${record.id}/enter?k=${assistantKey}`,
    };
    res.status(201).set('cache-control', 'no-store').json(out);
  });

  // The key leaves the address bar (and history, and logs of what is shown) at once: it becomes an
  // HttpOnly cookie of this workshop only, and the browser is sent on to the workshop's page.
  r.get('/workshops/:id/enter', async (req, res) => {
    const id = String(req.params.id);
    const key = typeof req.query.k === 'string' ? req.query.k : '';
    const role = key ? await workshops.keyRole(id, key) : undefined;
    res.set('cache-control', 'no-store');
    if (!role) return void res.status(403).type('text/plain').send('This link is not valid for this workshop: ask the instructor for the current link.\n');
    const w = (await workshops.store.workshop(id))!;
    const maxAge = Math.max(60, Math.round((w.endsAt + COOKIE_AFTER_END_MS - Date.now()) / 1000));
    const secure = req.secure ? '; Secure' : '';
    res.append('Set-Cookie', `${cookieName(id)}=${key}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure}`);
    res.redirect(303, `/workshops/${id}`);
  });

  // ---- learners joining by code ----

  /** The workshop of the code in the path, counting misses against the caller's address. */
  const byCode = async (req: Request, res: Response): Promise<string | undefined> => {
    const ip = clientIp(req, config.trustProxy);
    const wait = guard.blocked(ip);
    if (wait !== undefined) {
      res.set('Retry-After', String(wait));
      return void apiError(res, 429, 'rate-limited', `too many wrong workshop codes from your network: wait ${wait} s and check the code with your instructor`);
    }
    const code = normaliseCode(String(req.params.code));
    if (!isJoinCode(code) || !(await workshops.store.byCode(code))) {
      guard.miss(ip);
      return void apiError(res, 404, 'no-workshop', 'no workshop has this code: check it with your instructor (6 letters and digits)');
    }
    return code;
  };

  r.get('/api/w/:code', async (req, res) => {
    const code = await byCode(req, res);
    if (!code) return;
    res.json(await workshops.joinInfo(code, learnerId(req)));
  });

  r.post('/api/w/:code/join', async (req, res) => {
    const code = await byCode(req, res);
    if (!code) return;
    const body = parse(joinSchema, req, res);
    if (!body) return;
    res.json(await workshops.join(code, learnerId(req), body.name));
  });

  // ---- the learner's hand and hints (their session's Bearer token) ----

  r.post('/api/sessions/:id/hand', async (req, res) => {
    const session = await authorised(req);
    if (!session) return apiError(res, 404, 'no-session', 'no live session with this id and token');
    const body = parse(handSchema, req, res);
    if (!body) return;
    workshops.hand(session, body.raised);
    res.status(204).end();
  });

  r.post('/api/sessions/:id/next-lab', async (req, res) => {
    const session = await authorised(req);
    if (!session) return apiError(res, 404, 'no-session', 'no live session with this id and token');
    res.json(await workshops.nextLab(session));
  });

  r.post('/api/sessions/:id/hints/:step', async (req, res) => {
    const session = await authorised(req);
    if (!session) return apiError(res, 404, 'no-session', 'no live session with this id and token');
    const step = String(req.params.step);
    if (!/^\d{1,3}$/.test(step)) return apiError(res, 404, 'no-step', `this lab has steps 1 to ${session.lab.steps.length}`);
    const body = parse(hintSchema, req, res);
    workshops.hint(session, Number(step) - 1, body?.hint);
    res.status(204).end();
  });

  // ---- the room ----

  const EVERYONE: WorkshopRole[] = ['instructor', 'assistant', 'learner'];
  const STAFF: WorkshopRole[] = ['instructor', 'assistant'];
  const INSTRUCTOR: WorkshopRole[] = ['instructor'];

  r.get('/api/workshops/:id', async (req, res) => {
    const who = await roleOf(req, res, EVERYONE, 'see this workshop');
    if (!who) return;
    res.set('cache-control', 'no-store').json(await workshops.state(who.id, who.role, who.seat));
  });

  r.get('/api/workshops/:id/events', async (req, res) => {
    const who = await roleOf(req, res, STAFF, 'follow the room');
    if (!who) return;
    serveEvents(req, res, {
      workshop: who.id, log: workshops.events,
      state: async () => ({ type: 'state', state: await workshops.state(who.id, who.role) }),
      delivered: (e) => opts.metrics?.workshopEventDelay.observe((Date.now() - e.at) / 1000),
    });
  });

  r.post('/api/workshops/:id/broadcast', async (req, res) => {
    const who = await roleOf(req, res, STAFF, 'broadcast');
    const body = who && parse(broadcastSchema, req, res);
    if (!who || !body) return;
    workshops.broadcast(who.id, body.message);
    res.status(204).end();
  });

  r.post('/api/workshops/:id/extend', async (req, res) => {
    const who = await roleOf(req, res, STAFF, 'extend the workshop');
    const body = who && parse(extendSchema, req, res);
    if (!who || !body) return;
    res.json({ endsAt: workshops.extend(who.id, body.minutes) });
  });

  r.post('/api/workshops/:id/pace', async (req, res) => {
    const who = await roleOf(req, res, STAFF, 'pace the room');
    const body = who && parse(paceSchema, req, res);
    if (!who || !body) return;
    workshops.pace(who.id, body.unlockedStep);
    res.status(204).end();
  });

  r.post('/api/workshops/:id/end', async (req, res) => {
    const who = await roleOf(req, res, INSTRUCTOR, 'end the workshop');
    if (!who) return;
    res.status(202).json({ endsAt: workshops.endSoon(who.id) });
  });

  r.post('/api/workshops/:id/seats/:seat/reset', async (req, res) => {
    const who = await roleOf(req, res, INSTRUCTOR, 'reset a seat');
    if (!who) return;
    await workshops.reset(who.id, String(req.params.seat));
    res.status(204).end();
  });

  r.post('/api/workshops/:id/seats/:seat/control', async (req, res) => {
    const who = await roleOf(req, res, INSTRUCTOR, 'take control of a terminal');
    const body = who && parse(controlSchema, req, res);
    if (!who || !body) return;
    workshops.control(who.id, String(req.params.seat), body.on);
    res.status(202).end();
  });

  r.post('/api/workshops/:id/seats/:seat/view', async (req, res) => {
    const who = await roleOf(req, res, STAFF, 'view a terminal');
    if (!who) return;
    res.set('cache-control', 'no-store').json(workshops.viewTicket(who.id, String(req.params.seat), who.role as 'instructor' | 'assistant'));
  });

  r.post('/api/workshops/:id/seats/:seat/hand', async (req, res) => {
    const who = await roleOf(req, res, STAFF, 'lower a hand');
    if (!who) return;
    workshops.lowerHand(who.id, String(req.params.seat));
    res.status(204).end();
  });

  r.get('/api/workshops/:id/report', async (req, res) => {
    const who = await roleOf(req, res, STAFF, 'read the report');
    if (!who) return;
    const rows = await workshops.report(who.id);
    res.set('cache-control', 'no-store');
    if (req.query.format === 'csv') {
      const day = new Date().toISOString().slice(0, 10);
      return void res.type('text/csv; charset=utf-8').attachment(`workshop-${who.id}-${day}.csv`).send(reportCsv(rows));
    }
    res.json(rows);
  });

  // What a handler throws (or rejects with; Express 5 forwards both) that is meant for the caller:
  // a workshop's or a session's refusal, with its status. Anything else is the app's 500.
  r.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (err instanceof WorkshopError) return void res.status(err.status).json({ error: err.message, code: err.code, ...err.extra });
    if (err instanceof SessionError) return apiError(res, err.status, err.code, err.message);
    next(err);
  });

  return r;
}
