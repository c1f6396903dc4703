// The whole server as one object with start() and stop(): the CLI, the tests and the benchmark use it.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import type { Config } from './config.js';
import { createApp } from './http/app.js';
import { WsGateway } from './http/ws-gateway.js';
import { HostCheck } from './http/host-check.js';
import { loadCatalog, type Lab } from './labs/catalog.js';
import { LabDev } from './labs/lab-dev.js';
import { loadLab } from './labs/lab-loader.js';
import { ProgressStore } from './labs/progress-store.js';
import { completionKey } from './history/completion.js';
import { HistoryService } from './history/history-service.js';
import { HistoryStore } from './history/history-store.js';
import { RecordingService } from './recordings/recording-service.js';
import { RecordingStore } from './recordings/recording-store.js';
import { Metrics } from './metrics.js';
import type { Logger } from './log.js';
import { createDockerDriver, type DockerDriver, type PrepareHold } from './sandbox/driver.js';
import type { SandboxDriver } from './sandbox/sandbox-driver.js';
import { createKubernetesDriver } from './sandbox/kubernetes/kubernetes-driver.js';
import { SessionManager } from './sessions/session-manager.js';
import { SessionRecords } from './sessions/session-records.js';
import { WarmPool } from './sessions/warm-pool.js';
import { ViewTickets } from './sessions/view-tickets.js';
import { instanceKey } from './store/instance-key.js';
import { WorkshopService } from './workshops/workshop-service.js';
import { WorkshopStore } from './workshops/workshop-store.js';
import { openDatabases } from './store/open.js';
import { ReplicaLeases } from './store/replica-leases.js';

export interface LabServer {
  readonly url: string;
  readonly config: Config;
  readonly sessions: SessionManager;
  readonly driver: DockerDriver;
  readonly recordings: RecordingService;
  readonly workshops: WorkshopService;
  readonly history: HistoryService;
  /** Live reload of config.devLab (`labs dev`); undefined in normal serving. */
  readonly dev: LabDev | undefined;
  stop(): Promise<void>;
}

export interface LabServerOptions {
  /** Holds some profiles behind a step of the test's own (to see "not ready yet"). */
  prepare?: PrepareHold;
  /** Live reload's lines for the author (`labs dev`): reloads and the problems found. */
  devReport?: (line: string) => void;
  /** Boxes from this driver instead of the configured backend's (the scale simulation's local shells, scripts/sim/). */
  driver?: SandboxDriver;
}

/**
 * Prepares the engine (printing progress through `progress`), cleans up after a previous run, then
 * listens; a profile image never built here is prepared after that, while the page is served
 * (driver.preparation has its state, the lab cards show it).
 */
export async function startLabServer(config: Config, log: Logger, progress: (line: string) => void = () => {},
  options: LabServerOptions = {}): Promise<LabServer> {
  let sessions: SessionManager | undefined;
  // SQLite files in the state folder, or the PostgreSQL database servers share (TERMLAB_DATABASE_URL).
  const databases = await openDatabases(config);
  // This server's lease among the instance's replicas: sweeps of leftovers spare live replicas' boxes.
  const leases = await ReplicaLeases.take(databases.main, config.instance, config.replica, config.replicaBeatMs,
    (err) => log.warn({ err }, 'renewing this replica\'s lease failed; sweeps of other replicas\' boxes wait until it is renewed'));
  const spareAtStart = await leases.others();
  // Sessions and pre-started boxes in the database: a replica carries on the sessions of one that
  // died or stopped, and hands out any replica's pre-started boxes. The dead ones' rows go first.
  const place = (): string => driver.place;
  const records = await SessionRecords.open(databases.main, config.instance, config.replica, place);
  const pool = await WarmPool.open(databases.main, config.instance, config.replica, place);
  const spareSessionsAtStart = await records.spareFor(spareAtStart);
  await pool.forget(spareAtStart);
  // TERMLAB_BACKEND=kubernetes: boxes are pods (server/sandbox/kubernetes/). That driver has no
  // engine, so LabServer.driver's Docker-only members (docker, images, facts, shellArgv) are absent
  // then; only tests and the bench read them, and they run the Docker backend.
  const driver = options.driver ? options.driver as DockerDriver
    : config.backend === 'kubernetes' ? await createKubernetesDriver(config, log, progress, { spareAtStart, spareSessionsAtStart }) as unknown as DockerDriver
    : await createDockerDriver(config, log, progress, {
      background: true,
      prepare: options.prepare,
      onProfileReady: (profile) => sessions?.refill(profile),
      spareAtStart,
      spareSessionsAtStart,
    });
  let labs = new Map<string, Lab>();
  if (config.devLab) {
    // `labs dev`: this one lab only, and it must load (its problems are the author's to fix first).
    labs.set(config.devLab, loadLab(config.labsDir, config.devLab));
  } else {
    labs = loadCatalog(config.labsDir, (err) => log.error({ lab: err.lab, problems: err.problems }, 'lab left out: it does not validate (npm run labs -- validate)'));
  }
  if (labs.size === 0) log.warn({ dir: config.labsDir }, 'no labs found');

  const store = await ProgressStore.open(databases.main);
  const recordings = new RecordingService(await RecordingStore.open(databases.recordings, config.stateDir, config.recordings.maxDurationMs), config.recordings, config.recordingFormat);
  const metrics = new Metrics({ sessions: () => sessions?.count ?? 0, pooled: () => sessions?.pooled ?? {}, recordings: () => recordings.runningCount });
  // Replicas sign view tickets with a key they share, so the one serving a terminal redeems a ticket another issued.
  const viewTickets = new ViewTickets(databases.main.dialect === 'postgres' ? await instanceKey(databases.main, config.instance, 'view-tickets') : undefined);
  sessions = new SessionManager(config, driver, () => labs, store, log, metrics, records, pool, viewTickets);
  // Workshops and learners' history live in the same database as progress.
  const workshops = new WorkshopService(config, await WorkshopStore.open(databases.main, config.instance), sessions, recordings, () => labs, log,
    () => leases.live());
  const history = new HistoryService(await HistoryStore.open(databases.main),
    completionKey(config.stateDir, config.history.completionSecret), config.history, () => labs, (id) => sessions?.byId(id),
    async (learner, lab, since) => (await recordings.store.list(learner, lab)).filter((r) => r.createdAt >= since).map((r) => r.share), log);
  // A session taken over from another replica: its learner's attempt goes on being followed here.
  sessions.onAdopt((session) => void history.adopted(session).catch((err: Error) => log.warn({ err, session: session.id }, 'following an adopted session\'s attempt failed')));
  metrics.watchWorkshops(() => {
    const seats: Record<string, number> = { online: 0, offline: 0, stuck: 0, hand: 0, finished: 0 };
    let viewers = 0;
    for (const room of workshops.liveRooms()) {
      for (const row of room.ownRows()) {
        seats[row.online ? 'online' : 'offline']!++;
        if (row.stuck) seats.stuck!++;
        if (row.hand) seats.hand!++;
        if (row.finished) seats.finished!++;
        viewers += row.viewers;
      }
    }
    return { seats, reserved: sessions!.reservedTotal, viewers };
  });
  const hosts = new HostCheck(config);
  if (hosts.anyHost) log.warn('TERMLAB_ALLOWED_HOSTS has "*": any Host header is served, so DNS rebinding is not prevented');
  if (config.unsafeWeaken.length > 0) log.warn({ weakened: config.unsafeWeaken }, 'UNSAFE: TERMLAB_UNSAFE_WEAKEN turned defences off (for the security tests only)');
  const app = createApp({ config, sessions, recordings, metrics, labs: () => labs, webDir: config.webDir, log, hosts, workshops,
    history, driver, preparation: driver.preparation });
  const server = http.createServer(app);
  const gateway = new WsGateway(sessions, config, hosts, log);
  gateway.attach(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  await sessions.start();
  // A replica that crashed (its lease lapsed) leaves boxes no live server owns: the others remove them.
  let sweeping: Promise<void> | undefined;
  const sweepTimer = setInterval(() => {
    sweeping ??= (async () => {
      const spare = await leases.spareForSweep().catch(() => undefined);
      if (!spare) return;
      // The gone replicas' rows first, so nobody adopts or claims what the sweep then removes.
      const spareSessions = await records.spareFor(spare);
      await pool.forget(spare);
      await driver.removeLeftovers(spare, spareSessions);
    })().catch((err: Error) => log.warn({ err }, 'sweeping crashed replicas\' boxes failed')).finally(() => { sweeping = undefined; });
  }, 3 * config.replicaBeatMs);
  sweepTimer.unref();
  await workshops.start();
  history.start();
  const dev = config.devLab
    ? new LabDev({ labsDir: config.labsDir, lab: config.devLab, sessions: () => sessions!.sessions(),
      onLab: (lab) => labs.set(lab.id, lab), report: options.devReport ?? ((line) => log.info({ lab: config.devLab }, line)) })
    : undefined;
  driver.prepareInBackground();
  const address = server.address() as AddressInfo;
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  log.info({ url, labs: labs.size, instance: config.instance }, 'listening');
  // Where the other replicas reach this one (they relay views of terminals it serves).
  await leases.publish(config.replicaAddress ?? replicaAddress(config.host, address.port))
    .catch((err: Error) => log.warn({ err }, 'publishing this replica\'s address failed; views of its terminals from other replicas fail until its next beat'));

  let stopped: Promise<void> | undefined;
  return {
    url,
    config,
    sessions,
    driver,
    recordings,
    workshops,
    history,
    dev,
    stop() {
      stopped ??= (async () => {
        dev?.close();
        // With other replicas on the database, pages reconnect to one of them, which adopts their sessions.
        const handOver = databases.main.dialect === 'postgres' && (await leases.others().catch(() => new Set<string>())).size > 0;
        for (const conn of gateway.connections) {
          if (handOver) conn.moveOn();
          else conn.exit('server-stopping');
        }
        await workshops.stop();
        await sessions.stop(handOver);
        gateway.close();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        clearInterval(sweepTimer);
        await sweeping;
        // What is left of this server's boxes, and a crashed replica's. With the database out of
        // reach the live replicas are unknown: nothing more is removed (sessions.stop() ended ours).
        const others = await leases.others().catch(() => undefined);
        // This server's own rows left now are the sessions it handed over: their boxes stay for their adopters.
        if (others) await driver.removeLeftovers(others, await records.spareFor(new Set([...others, config.replica])));
        else log.warn('the database is out of reach: leftovers are left for the next sweep');
        await leases.leave().catch((err: Error) => log.warn({ err }, 'giving up this replica\'s lease failed; it lapses by itself'));
        history.stop();
        recordings.close();
        await databases.close();
      })();
      return stopped;
    },
  };
}

/**
 * This server's address for the other replicas when TERMLAB_REPLICA_ADDRESS is unset: the address it
 * listens on, or, listening on every interface, its first non-loopback IPv4 address (a pod's IP).
 */
function replicaAddress(host: string, port: number): string {
  const wildcard = host === '0.0.0.0' || host === '::';
  const ip = wildcard
    ? Object.values(os.networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address ?? '127.0.0.1'
    : host;
  return `http://${ip.includes(':') ? `[${ip}]` : ip}:${port}`;
}
