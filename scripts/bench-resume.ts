// `npm run bench -- --only resume`: what "Continue from step N" costs beside a plain start, on the
// docker-run lab (issue 12's figure: resuming at step 5 within a few seconds of a normal start).
// Both are timed from the POST to the first prompt in the terminal; the resume also until its
// replay has ended (the learner can type from then on). Prints figures; asserts nothing.
import crypto from 'node:crypto';
import type { LabProgress, SessionInfo } from '../protocol/api.js';
import type { Config } from '../server/config.js';
import type { LabServer } from '../server/lab-server.js';
import { percentile } from '../test/helpers/echo.js';
import { ProtocolClient } from '../test/helpers/protocol-client.js';

const PROMPT = /# $/;
const LAB = 'docker-run';
/** Continue from step 5: steps 1-4 are replayed. */
const PASSED = 4;

const ms = (v: number): string => `${Math.round(v)} ms`;

function progressOf(ch: ProtocolClient): LabProgress | undefined {
  return ch.of('lab').at(-1)?.progress;
}

async function post(srv: LabServer, cookie: string, route: string, body?: unknown, token?: string): Promise<Response> {
  return fetch(`${srv.url}${route}`, {
    method: 'POST',
    headers: { cookie, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function start(srv: LabServer, cookie: string, resume: boolean): Promise<SessionInfo> {
  const res = await post(srv, cookie, '/api/sessions', resume ? { lab: LAB, resume } : { lab: LAB });
  if (res.status !== 201) throw new Error(`starting ${LAB}: ${res.status} ${await res.text()}`);
  return (await res.json()) as SessionInfo;
}

async function end(srv: LabServer, info: SessionInfo, ...clients: ProtocolClient[]): Promise<void> {
  for (const c of clients) c.close();
  await fetch(`${srv.url}/api/sessions/${info.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${info.token}` } });
}

/** POST to the first prompt (and, for a resume, to the replay's end). */
async function timedStart(srv: LabServer, cookie: string, resume: boolean): Promise<{ ms: number; info: SessionInfo; term: ProtocolClient; ch: ProtocolClient }> {
  const t0 = performance.now();
  const info = await start(srv, cookie, resume);
  const [term, ch] = await Promise.all([ProtocolClient.open(srv.url, info.token, { cols: 120, rows: 30 }), ProtocolClient.openSession(srv.url, info.token)]);
  await term.waitFor('prompt', () => PROMPT.test(term.text), 60_000);
  if (resume) await ch.waitFor('the replay to end', () => progressOf(ch)?.replay?.state === 'done', 120_000);
  return { ms: performance.now() - t0, info, term, ch };
}

export async function benchResume(server: (overrides: Partial<Config>) => Promise<LabServer>, runs: number): Promise<void> {
  const srv = await server({});
  const starts: number[] = [];
  const resumes: number[] = [];
  try {
    for (let run = 0; run < runs; run++) {
      const cookie = `tl_learner=${crypto.randomBytes(18).toString('base64url')}`;
      const first = await timedStart(srv, cookie, false);
      starts.push(first.ms);
      // The learner passes steps 1-4 (their solutions, then Check), then leaves: the box goes.
      const session = srv.sessions.byId(first.info.id)!;
      for (let i = 0; i < PASSED; i++) {
        const step = session.lab.steps[i]!;
        await srv.driver.runScript(session.boxes.get(step.host)!, step.solution, 120_000);
        await post(srv, cookie, `/api/sessions/${first.info.id}/check`, undefined, first.info.token);
        await first.ch.waitFor(`step ${i + 1}`, () => progressOf(first.ch)?.steps[i] === 'done', 60_000);
      }
      await end(srv, first.info, first.term, first.ch);
      const resumed = await timedStart(srv, cookie, true);
      if (progressOf(resumed.ch)?.current !== PASSED) throw new Error(`resumed at step ${progressOf(resumed.ch)!.current + 1}, not ${PASSED + 1}`);
      resumes.push(resumed.ms);
      await end(srv, resumed.info, resumed.term, resumed.ch);
    }
  } finally {
    await srv.stop();
  }
  const p50 = (v: number[]): number => percentile(v, 50);
  console.log(`resume ${LAB} at step ${PASSED + 1} (${PASSED} steps replayed) vs a plain start, cold boxes, ${runs} runs:`);
  console.log(`  plain start -> prompt:           p50 ${ms(p50(starts))}  (runs: ${starts.map(ms).join(', ')})`);
  console.log(`  resume -> prompt and replay done: p50 ${ms(p50(resumes))}  (runs: ${resumes.map(ms).join(', ')})`);
  console.log(`  resume costs beyond a start:      p50 ${ms(p50(resumes) - p50(starts))}`);
}
