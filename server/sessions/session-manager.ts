// Creates, finds (or adopts from another replica) and ends sessions; keeps the instance's pool of
// pre-started boxes filled; sweeps idle, expired and over-quota sessions.
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
import type { BoxHandle, SandboxDriver } from '../sandbox/sandbox-driver.js';
import { Session } from './session.js';
import type { SessionRecord, SessionRecords } from './session-records.js';
import type { PoolCounts, PooledBox, WarmPool } from './warm-pool.js';
import { ViewTickets } from './view-tickets.js';

export class SessionError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) { super(message); }
}

/** 32 random bytes, URL-safe: the session's only credential. */
export function newToken(): string { return crypto.randomBytes(32).toString('base64url'); }
function newSessionId(): string { return crypto.randomBytes(9).toString('base64url').replace(/[-_]/g, 'x').toLowerCase(); }
function tokenKey(token: string): string { return crypto.createHash('sha256').update(token).digest('hex'); }

/** Boxes pre-started for one workshop: only its seats take them. */
interface Reserve { profile: SandboxProfile; boxes: PooledBox[]; filling: number; target: number; parallel: number; starting: Set<Promise<void>> }

/** What makes a session a workshop seat's. */
export interface SeatOptions {
  workshop: string;
  /** Paced rooms: why a step (0-based) may not be checked yet (LabRunner's gate). */
  gate?: (step: number) => string | undefined;
}
/** The host name of pre-started boxes: labs that declare no hosts get one host of this name. */
const POOL_HOSTNAME = 'lab';
/**
 * Unknown tokens looked up in the database at once: every one is a query, and a script sending
 * made-up tokens must not queue thousands of them (the rest are told to retry).
 */
const ADOPTING_MAX = 32;

/** What a session adopted from another replica needs besides its record (lab-server.ts: the history follows it on). */
export type AdoptHook = (session: Session) => void;

export class SessionManager {
  /** Keyed by a hash of the token, so lookups do not compare secrets byte by byte. */
  private readonly byTokenKey = new Map<string, Session>();
  private readonly byIdMap = new Map<string, Session>();
  private readonly filling = new Map<SandboxProfile, number>();
  private readonly toppingUp = new Map<SandboxProfile, Promise<void>>();
  /** The pool's ready boxes as last counted (health, metrics and the memory budget read it without a query). */
  private poolCounts: PoolCounts = { all: {}, mine: {} };
  private readonly reserves = new Map<string, Reserve>();
  private starting = 0;
  /** MiB of box memory limits reserved by sessions being started (live ones are summed from boxes). */
  private startingMb = 0;
  private sweepTimer: NodeJS.Timeout | undefined;
  /** Stops the "taken" notifications (start()). */
  private stopHearingTaken: (() => void) | undefined;
  private stopping = false;
  /** Boxes being destroyed or pre-started now; stop() waits for them so nothing races the final sweep. */
  private readonly ending = new Set<Promise<void>>();
  /** Adoptions under way, by token key: a page's terminal and session sockets arrive together and adopt once. */
  private readonly adopting = new Map<string, Promise<Session | undefined>>();
  private readonly adoptHooks = new Set<AdoptHook>();

  constructor(
    private readonly config: Config,
    private readonly driver: SandboxDriver,
    private readonly labs: () => Map<string, Lab>,
    private readonly store: ProgressStore,
    private readonly log: Logger,
    private readonly metrics: Metrics | undefined,
    /** Sessions in the database: replicas sharing it carry each other's sessions on. */
    private readonly records: SessionRecords,
    /** Pre-started boxes in the database: replicas sharing it hand out each other's. */
    private readonly pool: WarmPool,
    /** Tickets for read-only views of seated learners' terminals (workshops issue, view sockets redeem). */
    readonly viewTickets = new ViewTickets(),
  ) {}

  async start(): Promise<void> {
    // A session another replica took over while this one still runs it: its streams go, its boxes stay.
    this.stopHearingTaken = await this.records.onTaken((id) => {
      const session = this.byIdMap.get(id);
      if (session) void this.end(session, 'replaced');
    });
    this.sweepTimer = setInterval(() => void this.sweep(), this.config.sweepIntervalMs);
    this.sweepTimer.unref();
    for (const profile of ['shell', 'docker', 'kubernetes'] as const) this.fillPool(profile);
  }

  /**
   * A profile became available (its image finished preparing after the server started): pre-start
   * the boxes its pool and workshops could not start before. Workshops' ticks would get there too.
   */
  refill(profile: SandboxProfile): void {
    this.fillPool(profile);
    for (const [workshop, r] of this.reserves) if (r.profile === profile) this.fillReserve(workshop, r);
  }

  get count(): number { return this.byIdMap.size; }
  get pooled(): Record<string, number> { return { ...this.poolCounts.all }; }
  sessions(): Session[] { return [...this.byIdMap.values()]; }

  byToken(token: string): Session | undefined { return this.byTokenKey.get(tokenKey(token)); }

  /**
   * The live session with this token: this server's, or one another replica ran, taken over from
   * the shared database (its boxes re-attached, its progress loaded). Undefined when none has it.
   */
  async find(token: string): Promise<Session | undefined> {
    const key = tokenKey(token);
    const local = this.byTokenKey.get(key);
    if (local || this.stopping) return local;
    let adopting = this.adopting.get(key);
    if (!adopting) {
      if (this.adopting.size >= ADOPTING_MAX) throw new SessionError(503, 'busy', 'too many sessions are being looked up right now; try again in a moment');
      adopting = this.adopt(key, token).finally(() => this.adopting.delete(key));
      this.adopting.set(key, adopting);
    }
    return adopting;
  }

  /**
   * Where the replica serving this session is reached (its lease's address), when another replica
   * serves it: a view of its terminal is relayed there. Undefined when this one does, or nobody.
   */
  async servedElsewhere(id: string): Promise<string | undefined> {
    if (this.byIdMap.has(id)) return undefined;
    return this.records.ownerAddress(id);
  }

  /** Told of every session adopted from another replica, before it is handed out. */
  onAdopt(hook: AdoptHook): void { this.adoptHooks.add(hook); }

  private async adopt(key: string, token: string): Promise<Session | undefined> {
    const record = await this.records.adopt(key).catch((err: Error) => {
      // Not "no such session": the learner's session may well exist, and their page should retry.
      this.log.warn({ err }, 'looking a session up in the database failed');
      throw new SessionError(503, 'unavailable', 'sessions cannot be looked up right now (the database is out of reach); try again in a moment');
    });
    if (!record) return undefined;
    const lab = this.labs().get(record.lab);
    const boxes = new Map(Object.entries(record.boxes));
    if (!lab) {
      // The lab left this replica's catalogue (servers of different versions): the session cannot go on.
      this.log.warn({ session: record.id, lab: record.lab }, 'adopted a session of an unknown lab; ending it');
      if (await this.records.release(record.id) === 'destroy') await destroyLabBoxes(this.driver, boxes);
      return undefined;
    }
    const runner = new LabRunner(lab, record.id, boxes, this.driver, this.store, this.log,
      (passed, source) => this.metrics?.checks.inc({ result: passed ? 'pass' : 'fail', source }));
    await runner.adopt();
    const session = this.admit(record.id, token, lab, boxes, runner, record.workshop);
    session.adoptedFrom(record.createdAt, record.expiresAt, record.extensionsLeft, record.extendMs);
    for (const hook of this.adoptHooks) hook(session);
    this.log.info({ session: record.id, lab: lab.id }, 'session adopted from another replica');
    this.metrics?.sessionsStarted.inc({ lab: lab.id, pooled: 'adopted' });
    return session;
  }

  /** A session made or adopted here: known by id and token, its boxes released through its record. */
  private admit(id: string, token: string, lab: Lab, boxes: Map<string, BoxHandle>, runner: LabRunner, workshop?: string): Session {
    const session = new Session(id, token, lab, boxes, runner, this.driver, this.config.idleTimeoutMs, this.config.maxLifetimeMs,
      this.config.inputBufferKb * 1024, this.config.resizeIntervalMs);
    session.workshop = workshop;
    session.onRelease(() => this.records.release(id));
    session.onLifetime((l) => void this.records.saveLifetime(id, l.expiresAt, l.extensionsLeft)
      .catch((err: Error) => this.log.warn({ err, session: id }, 'saving an extended lifetime failed')));
    this.byIdMap.set(id, session);
    this.byTokenKey.set(tokenKey(token), session);
    return session;
  }

  private record(session: Session): SessionRecord {
    const l = session.lifetime();
    return { id: session.id, lab: session.lab.id, boxes: Object.fromEntries(session.boxes), createdAt: session.createdAt,
      expiresAt: session.expiresAt, extensionsLeft: l.extensionsLeft, extendMs: l.extendMs, workshop: session.workshop };
  }
  byId(id: string): Session | undefined { return this.byIdMap.get(id); }

  /** Can this lab start from a pre-started box (one host named "lab", no internet)? */
  poolable(labId: string): boolean {
    const lab = this.labs().get(labId);
    return Boolean(lab && !lab.internet && lab.hosts.length === 1 && lab.hosts[0] === POOL_HOSTNAME);
  }

  /** MiB of box memory one session of this lab holds. */
  costMb(labId: string): number {
    const lab = this.labs().get(labId);
    return lab ? lab.hosts.length * this.config.limits[lab.profile].memoryMb : 0;
  }

  /**
   * Keeps `target` boxes of `profile` pre-started for a workshop (ready plus starting), starting at
   * most `parallel` at once: warming 30 boxes must not starve the engine for everyone else.
   */
  reserve(workshop: string, profile: SandboxProfile, target: number, parallel: number): void {
    const r = this.reserves.get(workshop) ?? { profile, boxes: [], filling: 0, target, parallel, starting: new Set() };
    r.target = target;
    r.parallel = parallel;
    this.reserves.set(workshop, r);
    this.fillReserve(workshop, r);
  }

  /** Ready boxes reserved for this workshop. */
  reservedBoxes(workshop: string): number { return this.reserves.get(workshop)?.boxes.length ?? 0; }

  /** Every workshop's ready boxes (metrics). */
  get reservedTotal(): number { return [...this.reserves.values()].reduce((n, r) => n + r.boxes.length, 0); }

  /** Destroys the workshop's reserved boxes (its end) and stops making more; resolves when none is left. */
  async releaseReserve(workshop: string): Promise<void> {
    const r = this.reserves.get(workshop);
    if (!r) return;
    r.target = 0;
    const boxes = r.boxes.splice(0);
    // Boxes still starting are destroyed as they arrive (target 0): wait for that too.
    await Promise.all([...boxes.map((p) => this.driver.destroy(p.box).catch(() => {})), ...r.starting]);
    if (r.filling === 0) this.reserves.delete(workshop);
  }

  private fillReserve(workshop: string, r: Reserve): void {
    while (!this.stopping && r.filling < r.parallel && r.boxes.length + r.filling < r.target && !this.driver.available(r.profile)) {
      r.filling++;
      const session = newSessionId();
      const creating: Promise<void> = this.driver.create({ session, profile: r.profile, hostname: POOL_HOSTNAME, internet: false })
        .then(async (box) => {
          // A workshop that ended (or a server stopping) while this box started does not keep it.
          if (this.stopping || r.boxes.length >= r.target) return this.driver.destroy(box);
          r.boxes.push({ session, box });
        })
        .catch((err: Error) => this.log.error({ err, workshop }, 'pre-starting a workshop box failed'))
        .finally(() => {
          r.filling--;
          this.ending.delete(creating);
          r.starting.delete(creating);
          if (r.target === 0 && r.filling === 0 && r.boxes.length === 0) this.reserves.delete(workshop);
          else this.fillReserve(workshop, r);
        });
      this.ending.add(creating);
      r.starting.add(creating);
    }
  }

  /** `resumeAt`: a learner's attempt continues on this fresh box, its first `resumeAt` steps replayed (lab-runner.ts). */
  async create(labId: string, seat?: SeatOptions, resumeAt = 0): Promise<Session> {
    if (this.stopping) throw new SessionError(503, 'stopping', 'the server is shutting down');
    const lab = this.labs().get(labId);
    if (!lab) throw new SessionError(404, 'no-such-lab', `there is no lab "${labId}"`);
    // A workshop seat's box was counted when the workshop was admitted (and is held already when warm).
    const held = seat && this.poolable(labId) ? this.reserves.get(seat.workshop) : undefined;
    const reserve = held?.profile === lab.profile ? held : undefined;
    const fromReserve = Boolean(reserve?.boxes.length);
    if (!fromReserve && this.byIdMap.size + this.starting >= this.config.maxSessions) {
      throw new SessionError(503, 'at-capacity', `all ${this.config.maxSessions} session slots are in use; try again later`);
    }
    const refused = this.driver.available(lab.profile);
    if (refused) throw new SessionError(503, 'unavailable', `this lab cannot start now: ${refused}`);
    // What a session costs is its boxes' memory limits, not 1: a three-host docker lab reserves
    // three docker boxes. Pre-started boxes are reserved too (they hold their memory already).
    const costMb = fromReserve ? 0 : lab.hosts.length * this.config.limits[lab.profile].memoryMb;
    const reservedMb = this.reservedMb();
    if (!fromReserve && reservedMb + costMb > this.config.memoryBudgetMb) {
      throw new SessionError(503, 'at-capacity', `the server is full: this lab needs ${costMb} MiB of box memory and ` +
        `${reservedMb} of ${this.config.memoryBudgetMb} MiB are reserved by running labs; try again later`);
    }
    this.starting++;
    this.startingMb += costMb;
    // Taken at once (no await before): a seat consumes its box, so the workshop wants one fewer.
    const reservedBox = fromReserve ? reserve!.boxes.shift() : undefined;
    if (reserve && reservedBox) reserve.target = Math.max(0, reserve.target - 1);
    let pooled: PooledBox | undefined;
    let boxes: Map<string, BoxHandle> | undefined;
    try {
      // A pre-started box fits a one-host lab whose host is the default "lab".
      const poolable = !lab.internet && lab.hosts.length === 1 && lab.hosts[0] === POOL_HOSTNAME;
      // A seat past its workshop's warm boxes may still take one from the instance's pool (not the reverse).
      pooled = reservedBox ?? (poolable ? await this.claimPooled(lab.profile) : undefined);
      const id = pooled?.session ?? newSessionId();
      const started = performance.now();
      boxes = pooled ? new Map([[POOL_HOSTNAME, pooled.box]]) : await createLabBoxes(this.driver, lab, id);
      const runner = new LabRunner(lab, id, boxes, this.driver, this.store, this.log,
        (passed, source) => this.metrics?.checks.inc({ result: passed ? 'pass' : 'fail', source }), seat?.gate, resumeAt);
      await runner.start();
      const session = this.admit(id, newToken(), lab, boxes, runner, seat?.workshop);
      if (!seat) session.allowExtensions(this.config.history.extensions, this.config.history.extendMs);
      // Known to the other replicas before the page has its token: a page that lands elsewhere finds it.
      await this.records.save(tokenKey(session.token), this.record(session)).catch((err: Error) => {
        this.log.error({ err, session: id }, 'saving the session for other replicas failed: only this one can carry it');
      });
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
      if (pooled && !reservedBox) this.fillPool(lab.profile);
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
    for (const [profile, n] of Object.entries(this.poolCounts.mine)) total += n * mb(profile as SandboxProfile);
    for (const [profile, n] of this.filling) total += n * mb(profile);
    for (const r of this.reserves.values()) total += (r.boxes.length + r.filling) * mb(r.profile);
    return total;
  }

  /** Ends sessions idle (no client) past the timeout, past their lifetime, or over their disk quota. */
  async sweep(): Promise<void> {
    const now = Date.now();
    const work: Promise<void>[] = [this.driver.checkIsolation().catch((err: Error) => this.log.error({ err }, 'isolation check failed')), this.countPool()];
    for (const session of this.byIdMap.values()) {
      if (session.endReason) {
        work.push(this.end(session, session.endReason));
      } else if (now >= session.expiresAt && !session.workshop) {
        // A seat lives as long as its workshop (which may be extended); the workshop's end ends it.
        work.push(this.end(session, 'max-lifetime'));
      } else if (!session.workshop && session.attachedClients === 0 && session.idleForMs >= session.idleTimeoutMs) {
        work.push(this.end(session, 'idle-timeout'));
      } else {
        work.push(this.checkDisk(session));
      }
    }
    await Promise.all(work);
  }

  /**
   * `handOver`: other replicas run and share the database, so the sessions are left to them (their
   * pages reconnect and land on one, which adopts them) instead of ended. Returns the ids handed over.
   */
  async stop(handOver = false): Promise<Set<string>> {
    this.stopping = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.stopHearingTaken?.();
    const pooled = [...await this.pool.takeMine().catch(() => []), ...[...this.reserves.values()].map((r) => r.boxes)].flat();
    this.reserves.clear();
    const handed = new Set(handOver ? this.sessions().map((s) => s.id) : []);
    await Promise.all([
      ...this.sessions().map((s) => (handed.has(s.id) ? this.handOver(s) : this.end(s, 'server-stopping'))),
      ...pooled.map((p) => this.driver.destroy(p.box).catch(() => {})),
      ...this.ending,
    ]);
    return handed;
  }

  /** Lets a session go without ending it: its record and boxes stay for the replica its page reconnects to. */
  private async handOver(session: Session): Promise<void> {
    this.byIdMap.delete(session.id);
    this.byTokenKey.delete(tokenKey(session.token));
    await session.handOver();
    this.log.info({ session: session.id }, 'session handed over to the other replicas');
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

  /** A ready box from the instance's pool, or undefined (none, or the database out of reach: a fresh box then). */
  private async claimPooled(profile: SandboxProfile): Promise<PooledBox | undefined> {
    const pooled = await this.pool.claim(profile).catch((err: Error) => {
      this.log.warn({ err, profile }, 'claiming a pre-started box failed; starting a fresh one');
      return undefined;
    });
    void this.countPool();
    return pooled;
  }

  private async countPool(): Promise<void> {
    this.poolCounts = await this.pool.counts().catch(() => this.poolCounts);
  }

  /**
   * Tops the instance's pool up to its size (TERMLAB_POOL): the ready boxes every replica made, plus
   * the ones this replica is starting. Replicas filling at the same moment may start a few more.
   */
  private fillPool(profile: SandboxProfile): void {
    if (this.driver.available(profile) || this.stopping) return;
    // One top-up at a time per profile: two counting at once would both start the missing boxes.
    const previous = this.toppingUp.get(profile) ?? Promise.resolve();
    this.toppingUp.set(profile, previous.then(async () => {
      await this.countPool();
      const want = this.config.pool[profile] ?? 0;
      const have = (this.poolCounts.all[profile] ?? 0) + (this.filling.get(profile) ?? 0);
      for (let i = have; i < want && !this.stopping; i++) this.startPooled(profile);
    }));
  }

  private startPooled(profile: SandboxProfile): void {
    this.filling.set(profile, (this.filling.get(profile) ?? 0) + 1);
    const session = newSessionId();
    const creating: Promise<void> = this.driver.create({ session, profile, hostname: POOL_HOSTNAME, internet: false })
      .then(async (box) => {
        if (this.stopping) return this.driver.destroy(box);
        // Not in the pool, not a session: nobody else could ever destroy it.
        await this.pool.add(profile, { session, box }).catch(async (err: Error) => {
          await this.driver.destroy(box);
          throw err;
        });
        await this.countPool();
      })
      .catch((err: Error) => this.log.error({ err, profile }, 'pre-starting a box failed'))
      .finally(() => {
        this.filling.set(profile, (this.filling.get(profile) ?? 1) - 1);
        this.ending.delete(creating);
      });
    this.ending.add(creating);
  }

}
