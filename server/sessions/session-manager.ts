// Creates, finds and ends sessions; keeps a pool of pre-started boxes; sweeps idle, expired and
// over-quota sessions.
import crypto from 'node:crypto';
import type { SandboxProfile } from '../../protocol/api.js';
import type { ExitReason } from '../../protocol/messages.js';
import type { Config } from '../config.js';
import { createLabBoxes, destroyLabBoxes } from '../labs/lab-boxes.js';
import type { Lab } from '../labs/lab-loader.js';
import { LabRunner } from '../labs/lab-runner.js';
import type { ProgressStore } from '../labs/progress-store.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { BoxHandle, SandboxDriver } from './sandbox-driver.js';
import { Session } from './session.js';
import { ViewTickets } from './view-tickets.js';

export class SessionError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) { super(message); }
}

/** 32 random bytes, URL-safe: the session's only credential. */
export function newToken(): string { return crypto.randomBytes(32).toString('base64url'); }
function newSessionId(): string { return crypto.randomBytes(9).toString('base64url').replace(/[-_]/g, 'x').toLowerCase(); }
function tokenKey(token: string): string { return crypto.createHash('sha256').update(token).digest('hex'); }

interface PooledBox { session: string; box: BoxHandle }
/** The host name of pre-started boxes: labs that declare no hosts get one host of this name. */
const POOL_HOSTNAME = 'lab';

export class SessionManager {
  /** Keyed by a hash of the token, so lookups do not compare secrets byte by byte. */
  private readonly byTokenKey = new Map<string, Session>();
  private readonly byIdMap = new Map<string, Session>();
  private readonly pool = new Map<SandboxProfile, PooledBox[]>();
  private readonly filling = new Map<SandboxProfile, number>();
  private starting = 0;
  /** MiB of box memory limits reserved by sessions being started (live ones are summed from boxes). */
  private startingMb = 0;
  private sweepTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  /** Boxes being destroyed or pre-started now; stop() waits for them so nothing races the final sweep. */
  private readonly ending = new Set<Promise<void>>();
  /** Tickets for read-only views of seated learners' terminals (workshops issue, view sockets redeem). */
  readonly viewTickets = new ViewTickets();

  constructor(
    private readonly config: Config,
    private readonly driver: SandboxDriver,
    private readonly labs: () => Map<string, Lab>,
    private readonly store: ProgressStore,
    private readonly log: Logger,
    private readonly metrics?: Metrics,
  ) {}

  start(): void {
    this.sweepTimer = setInterval(() => void this.sweep(), this.config.sweepIntervalMs);
    this.sweepTimer.unref();
    for (const profile of ['shell', 'docker', 'kubernetes'] as const) this.fillPool(profile);
  }

  get count(): number { return this.byIdMap.size; }
  get pooled(): Record<string, number> {
    return Object.fromEntries([...this.pool].map(([p, boxes]) => [p, boxes.length]));
  }
  sessions(): Session[] { return [...this.byIdMap.values()]; }

  byToken(token: string): Session | undefined { return this.byTokenKey.get(tokenKey(token)); }
  byId(id: string): Session | undefined { return this.byIdMap.get(id); }

  async create(labId: string): Promise<Session> {
    if (this.stopping) throw new SessionError(503, 'stopping', 'the server is shutting down');
    const lab = this.labs().get(labId);
    if (!lab) throw new SessionError(404, 'no-such-lab', `there is no lab "${labId}"`);
    if (this.byIdMap.size + this.starting >= this.config.maxSessions) {
      throw new SessionError(503, 'at-capacity', `all ${this.config.maxSessions} session slots are in use; try again later`);
    }
    const refused = this.driver.available(lab.profile);
    if (refused) throw new SessionError(503, 'unavailable', `this lab cannot start now: ${refused}`);
    // What a session costs is its boxes' memory limits, not 1: a three-host docker lab reserves
    // three docker boxes. Pre-started boxes are reserved too (they hold their memory already).
    const costMb = lab.hosts.length * this.config.limits[lab.profile].memoryMb;
    const reservedMb = this.reservedMb();
    if (reservedMb + costMb > this.config.memoryBudgetMb) {
      throw new SessionError(503, 'at-capacity', `the server is full: this lab needs ${costMb} MiB of box memory and ` +
        `${reservedMb} of ${this.config.memoryBudgetMb} MiB are reserved by running labs; try again later`);
    }
    this.starting++;
    this.startingMb += costMb;
    let pooled: PooledBox | undefined;
    let boxes: Map<string, BoxHandle> | undefined;
    try {
      // A pre-started box fits a one-host lab whose host is the default "lab".
      const poolable = !lab.internet && lab.hosts.length === 1 && lab.hosts[0] === POOL_HOSTNAME;
      pooled = poolable ? this.pool.get(lab.profile)?.shift() : undefined;
      const id = pooled?.session ?? newSessionId();
      const started = performance.now();
      boxes = pooled ? new Map([[POOL_HOSTNAME, pooled.box]]) : await createLabBoxes(this.driver, lab, id);
      const runner = new LabRunner(lab, id, boxes, this.driver, this.store, this.log,
        (passed, source) => this.metrics?.checks.inc({ result: passed ? 'pass' : 'fail', source }));
      await runner.start();
      const session = new Session(id, newToken(), lab, boxes, runner, this.driver, this.config.idleTimeoutMs, this.config.maxLifetimeMs,
        this.config.inputBufferKb * 1024, this.config.resizeIntervalMs);
      this.byIdMap.set(id, session);
      this.byTokenKey.set(tokenKey(session.token), session);
      this.log.info({ session: id, lab: lab.id, profile: lab.profile, hosts: lab.hosts.length, pooled: Boolean(pooled) }, 'session started');
      this.metrics?.sessionsStarted.inc({ lab: lab.id, pooled: String(Boolean(pooled)) });
      this.metrics?.boxStartSeconds.observe({ profile: lab.profile, pooled: String(Boolean(pooled)) }, (performance.now() - started) / 1000);
      return session;
    } catch (err) {
      this.log.error({ err, lab: labId }, 'box creation failed');
      this.metrics?.boxFailures.inc({ profile: lab.profile });
      if (boxes) await destroyLabBoxes(this.driver, boxes);
      throw new SessionError(503, 'box-failed', `could not start the lab's ${lab.profile} box: ${(err as Error).message}`);
    } finally {
      this.starting--;
      this.startingMb -= costMb;
      if (pooled) this.fillPool(lab.profile);
    }
  }

  async end(session: Session, reason: ExitReason): Promise<void> {
    if (!this.byIdMap.has(session.id)) return;
    this.byIdMap.delete(session.id);
    this.byTokenKey.delete(tokenKey(session.token));
    this.log.info({ session: session.id, reason, ageS: Math.round((Date.now() - session.createdAt) / 1000) }, 'session ended');
    this.metrics?.sessionsEnded.inc({ reason });
    const done = session.end(reason).catch((err: Error) => {
      this.log.error({ err, session: session.id }, 'destroying the box failed; the next sweep of leftovers removes it');
    });
    this.ending.add(done);
    await done;
    this.ending.delete(done);
  }

  /** MiB of memory limits held by live sessions' boxes, pre-started boxes and sessions starting. */
  reservedMb(): number {
    const mb = (profile: SandboxProfile): number => this.config.limits[profile].memoryMb;
    let total = this.startingMb;
    for (const s of this.byIdMap.values()) total += s.boxes.size * mb(s.lab.profile);
    for (const [profile, boxes] of this.pool) total += boxes.length * mb(profile);
    for (const [profile, n] of this.filling) total += n * mb(profile);
    return total;
  }

  /** Ends sessions idle (no client) past the timeout, past their lifetime, or over their disk quota. */
  async sweep(): Promise<void> {
    const now = Date.now();
    const work: Promise<void>[] = [this.driver.checkIsolation().catch((err: Error) => this.log.error({ err }, 'isolation check failed'))];
    for (const session of this.byIdMap.values()) {
      if (session.endReason) {
        work.push(this.end(session, session.endReason));
      } else if (now >= session.expiresAt) {
        work.push(this.end(session, 'max-lifetime'));
      } else if (session.attachedClients === 0 && session.idleForMs >= session.idleTimeoutMs) {
        work.push(this.end(session, 'idle-timeout'));
      } else {
        work.push(this.checkDisk(session));
      }
    }
    await Promise.all(work);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    const pooled = [...this.pool.values()].flat();
    this.pool.clear();
    await Promise.all([
      ...this.sessions().map((s) => this.end(s, 'server-stopping')),
      ...pooled.map((p) => this.driver.destroy(p.box).catch(() => {})),
      ...this.ending,
    ]);
  }

  /**
   * With an engine that caps disks, a box at its cap just gets ENOSPC: the learner is told, once
   * per filling, so a failing command is not a mystery. Without one, the poll is the only limit
   * and a box over it is ended.
   */
  private async checkDisk(session: Session): Promise<void> {
    try {
      const quota = this.driver.diskQuotaBytes(session.lab.profile);
      for (const [host, box] of session.boxes) {
        const used = await this.driver.writableBytes(box);
        if (!this.driver.enforcesDisk && used > quota) {
          this.log.warn({ session: session.id, used }, 'disk quota exceeded');
          await this.end(session, 'box-failed');
          return;
        }
        session.noteDiskUse(host, used, quota);
      }
    } catch { /* the box is going away; the lifetime checks still apply */ }
  }

  private fillPool(profile: SandboxProfile): void {
    const want = this.config.pool[profile] ?? 0;
    const have = (this.pool.get(profile)?.length ?? 0) + (this.filling.get(profile) ?? 0);
    if (this.driver.available(profile)) return;
    for (let i = have; i < want && !this.stopping; i++) {
      this.filling.set(profile, (this.filling.get(profile) ?? 0) + 1);
      const session = newSessionId();
      const creating: Promise<void> = this.driver.create({ session, profile, hostname: POOL_HOSTNAME, internet: false })
        .then((box) => {
          if (this.stopping) return this.driver.destroy(box);
          const list = this.pool.get(profile) ?? [];
          list.push({ session, box });
          this.pool.set(profile, list);
        })
        .catch((err: Error) => this.log.error({ err, profile }, 'pre-starting a box failed'))
        .finally(() => {
          this.filling.set(profile, (this.filling.get(profile) ?? 1) - 1);
          this.ending.delete(creating);
        });
      this.ending.add(creating);
    }
  }
}
