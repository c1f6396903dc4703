// HTTP routes: the page, the lab list, and session create / status / end.
import express, { type NextFunction, type Request, type Response } from 'express';
import type { ApiError, CreateSessionRequest, LabContent, LabListResponse, StepSolution } from '../../protocol/api.js';
import type { ProfileStatusResponse } from '../../protocol/preparation.js';
import type { ProfilePreparation } from '../sandbox/preparation.js';
import type { SandboxDriver } from '../sandbox/sandbox-driver.js';
import { labContent, summary, type Lab } from '../labs/catalog.js';
import type { Logger } from '../log.js';
import { SessionError, type SessionManager } from '../sessions/session-manager.js';
import type { Session } from '../sessions/session.js';
import type { Metrics } from '../metrics.js';
import type { RecordingService } from '../recordings/recording-service.js';
import type { Config } from '../config.js';
import { clientIp } from './client-ip.js';
import { ClientLimits } from './client-limits.js';
import { HostCheck } from './host-check.js';
import { learnerCookie, learnerId } from './learner.js';
import { metricsAccess } from './metrics-access.js';
import { PORT_PREFIX, portCookie, portProxy } from './port-proxy.js';
import { securityHeaders } from './security-headers.js';
import { recordingRoutes } from './recording-routes.js';
import { webFiles } from './web-files.js';
import { workshopRoutes } from './workshop-routes.js';
import type { WorkshopService } from '../workshops/workshop-service.js';
import type { HistoryService } from '../history/history-service.js';
import { historyRoutes } from './history-routes.js';

function apiError(res: Response, status: number, code: string, error: string): void {
  const body: ApiError = { error, code };
  res.status(status).json(body);
}

/** The session named in the path, if the Bearer token is its own (another replica's is adopted). */
async function authorised(req: Request, sessions: SessionManager): Promise<Session | undefined> {
  const header = req.get('authorization') ?? '';
  const token = header.startsWith('Bearer ') ? header.slice(7) : '';
  const session = token ? await sessions.find(token) : undefined;
  return session && session.id === req.params.id ? session : undefined;
}

export function createApp(opts: {
  config: Config; sessions: SessionManager; recordings: RecordingService; metrics: Metrics; labs: () => Map<string, Lab>;
  webDir: string; log: Logger; hosts: HostCheck; workshops?: WorkshopService; history: HistoryService;
  /** The sandbox layer's way into a box's ports (the port proxy's upstream). */
  driver: Pick<SandboxDriver, 'dial'>;
  /** Profiles prepared after listening (the kubernetes image on a first run). */
  preparation?: Pick<ProfilePreparation, 'statuses' | 'status' | 'refusal'>;
}): express.Express {
  const { config, sessions, recordings, metrics, labs, log, history } = opts;
  const limits = new ClientLimits(config);
  const app = express();
  app.disable('x-powered-by');
  // req.ip and req.protocol then agree with clientIp().
  app.set('trust proxy', config.trustProxy || false);
  app.use(opts.hosts.middleware());
  if (!config.unsafeWeaken.includes('page-headers')) app.use(securityHeaders({ skipPrefix: PORT_PREFIX }));
  app.use('/api', express.json({ limit: '16kb' }), learnerCookie());

  app.get('/api/health', (_req, res) => { res.json({ ok: true, sessions: sessions.count, pooled: sessions.pooled }); });

  // Prometheus scrape endpoint (who may read it: metrics-access.ts).
  app.get('/metrics', async (req, res) => {
    const access = metricsAccess(config, req);
    if (!access.ok) return apiError(res, access.status, 'unauthorised', access.message);
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.get('/api/labs', (_req, res) => {
    const body: LabListResponse = { labs: [...labs().values()].map(summary) };
    res.json(body);
  });

  // The lab list polls this while a profile is being prepared: answered from memory.
  app.get('/api/profiles', (_req, res) => {
    const body: ProfileStatusResponse = { profiles: opts.preparation?.statuses() ?? {} };
    res.set('Cache-Control', 'no-store').json(body);
  });

  app.post('/api/sessions', async (req, res) => {
    if (!req.is('application/json')) return apiError(res, 415, 'bad-request', 'send JSON: {"lab": "<lab id>"}');
    const body = req.body as Partial<CreateSessionRequest> | undefined;
    if (typeof body?.lab !== 'string') return apiError(res, 400, 'bad-request', 'the body needs a "lab" field naming a lab');
    // Before the start limits: pressing Start on a lab whose sandbox is still being built must not
    // use up the starts a learner needs for another lab meanwhile (this answer costs a Map lookup).
    const profile = labs().get(body.lab)?.profile;
    const notReady = profile && opts.preparation?.refusal(profile);
    if (profile && notReady) {
      const status = opts.preparation!.status(profile)!;
      if (status.state === 'preparing') res.set('Retry-After', String(Math.ceil(Math.min(status.leftMs ?? 60_000, 300_000) / 1000)));
      return apiError(res, 503, status.state === 'failed' ? 'preparation-failed' : 'preparing', notReady);
    }
    const learner = learnerId(req);
    // Continuing an attempt whose box still runs hands that session back: nothing starts, so no start is spent.
    const plan = body.resume === true ? await history.resumePlan(learner, body.lab) : undefined;
    if (plan) metrics.resumes.inc({ outcome: plan.kind });
    if (plan?.kind === 'live') return res.status(200).append('Set-Cookie', portCookie(plan.session)).json(plan.session.info());
    if (plan?.kind === 'refused') return apiError(res, 409, plan.code, plan.message);
    // Before the lab is looked up: guessing lab names costs starts too. A replayed resume is a start like any other.
    const admitted = limits.admit({ learner, ip: clientIp(req, config.trustProxy) });
    if (!admitted.ok) {
      plan?.release();
      if (admitted.retryAfterS) res.set('Retry-After', String(admitted.retryAfterS));
      return apiError(res, 429, admitted.code, admitted.message);
    }
    try {
      const session = await sessions.create(body.lab, undefined, plan?.from ?? 0);
      admitted.slot.bind(session);
      if (plan) history.resumeIn(plan.attempt, session);
      else history.begin(learner, session);
      res.status(201).append('Set-Cookie', portCookie(session)).json(session.info());
    } catch (err) {
      admitted.slot.release();
      if (err instanceof SessionError) return apiError(res, err.status, err.code, err.message);
      throw err;
    } finally {
      // From here on the attempt's session is live: another tab's Continue takes it back as it is.
      plan?.release();
    }
  });

  app.get('/api/sessions/:id', async (req, res) => {
    const session = await authorised(req, sessions);
    if (!session) return apiError(res, 404, 'no-session', 'no live session with this id and token');
    res.json({ ...session.info(), recordings: recordings.runningFor(session.id) });
  });

  app.delete('/api/sessions/:id', async (req, res) => {
    const session = await authorised(req, sessions);
    if (!session) return apiError(res, 404, 'no-session', 'no live session with this id and token');
    await sessions.end(session, 'ended');
    res.status(204).end();
  });

  app.get('/api/sessions/:id/lab', async (req, res) => {
    const session = await authorised(req, sessions);
    if (!session) return apiError(res, 404, 'no-session', 'no live session with this id and token');
    const body: LabContent = labContent(session.lab);
    res.json(body);
  });

  // The check's outcome reaches the page as `lab` on the session channel, like every other change
  // of progress (one source of truth, docs/protocol.md); this answer only says the check was asked for.
  app.post('/api/sessions/:id/check', async (req, res) => {
    const session = await authorised(req, sessions);
    if (!session) return apiError(res, 404, 'no-session', 'no live session with this id and token');
    session.touch();
    session.runner.check('button').catch((err: Error) => log.error({ err, session: session.id }, 'check failed'));
    res.status(202).json({ accepted: true });
  });

  // Workshops: the learner hands control of their terminal to the instructor who asked for it, or
  // takes it back (at any time). Only the learner's own token may do either.
  app.post('/api/sessions/:id/control', async (req, res) => {
    const session = await authorised(req, sessions);
    if (!session) return apiError(res, 404, 'no-session', 'no live session with this id and token');
    const grant = (req.body as { grant?: unknown } | undefined)?.grant;
    if (typeof grant !== 'boolean') return apiError(res, 400, 'bad-request', 'send JSON: {"grant": true} to hand control to the instructor, {"grant": false} to take it back');
    if (grant && session.control !== 'instructor' && !session.controlPending) {
      return apiError(res, 409, 'not-requested', 'the instructor has not asked for control of this terminal');
    }
    session.setControl(grant ? 'instructor' : 'learner');
    res.json({ control: session.control });
  });

  // The learner pushes the lifetime's end back (a few times at most, where the operator allows it).
  app.post('/api/sessions/:id/extend', async (req, res) => {
    const session = await authorised(req, sessions);
    if (!session) return apiError(res, 404, 'no-session', 'no live session with this id and token');
    if (session.workshop) return apiError(res, 403, 'workshop-seat', 'a workshop seat lasts as long as its workshop: only the instructor can extend it');
    if (!session.extend()) return apiError(res, 409, 'no-extensions', 'this lab cannot be extended any more: your progress is kept, and you can continue it later');
    session.touch();
    res.json(session.lifetime());
  });

  app.post('/api/sessions/:id/steps/:n/solution', async (req, res) => {
    const session = await authorised(req, sessions);
    if (!session) return apiError(res, 404, 'no-session', 'no live session with this id and token');
    const step = session.lab.steps[Number(req.params.n) - 1];
    if (!/^\d+$/.test(String(req.params.n)) || !step) return apiError(res, 404, 'no-step', `this lab has steps 1 to ${session.lab.steps.length}`);
    const body: StepSolution = { terminal: step.terminal, solution: step.solution };
    res.json(body);
  });

  app.use('/api', historyRoutes({ config, history, apiError }));
  app.use('/api', recordingRoutes({ sessions, recordings, labs, authorised: (req) => authorised(req, sessions), apiError }));
  if (opts.workshops) {
    app.use(workshopRoutes({ config, workshops: opts.workshops, metrics, apiError, authorised: (req) => authorised(req, sessions) }));
  }
  app.use('/api', (_req, res) => apiError(res, 404, 'not-found', 'no such API route'));
  app.use(PORT_PREFIX, portProxy(sessions, opts.driver, { harden: !config.unsafeWeaken.includes('port-proxy-headers') }));
  // Share and embed links are pages of the app; it reads the share id from the path.
  app.use(webFiles(opts.webDir, ['/watch/:share', '/embed/:share', '/workshops/new', '/workshops/:id', '/workshops/:id/report', '/w/:code', '/progress', '/completions/:token']));

  app.use((err: Error & { status?: number; type?: string }, _req: Request, res: Response, _next: NextFunction) => {
    if (err.type === 'entity.parse.failed') return apiError(res, 400, 'bad-json', 'the request body is not valid JSON');
    if (err.type === 'entity.too.large') return apiError(res, 413, 'too-large', 'the request body is too large');
    // Looking a token up among other replicas' sessions was refused for now (busy, database out of reach).
    if (err instanceof SessionError) {
      res.set('Retry-After', '2');
      return apiError(res, err.status, err.code, err.message);
    }
    log.error({ err }, 'request failed');
    apiError(res, 500, 'internal', 'internal server error');
  });
  return app;
}
