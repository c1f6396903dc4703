// The lab server of the scale simulation (scripts/bench-sim.ts), in a process of its own so that
// its CPU and memory are measured alone: server/lab-server.ts as `npm start` runs it, with boxes
// from the local driver (local bash, no containers) and one small lab of its own.
//   SIM_LABS=DIR TERMLAB_DATABASE_URL=... node --import tsx scripts/sim/sim-server.ts
import { loadConfig } from '../../server/config.js';
import { startLabServer } from '../../server/lab-server.js';
import { createLogger } from '../../server/log.js';
import { localDriver } from './local-driver.js';

const config = loadConfig(process.env, {
  port: 0, host: '127.0.0.1', logLevel: 'error', labsDir: process.env.SIM_LABS!, pool: { shell: 0, docker: 0, kubernetes: 0 },
  maxSessions: 5000, memoryBudgetMb: 1024 * 1024, sessionsPerIp: 100_000, socketsPerIp: 100_000,
  sessionStartsPerMinute: 1_000_000, sessionStartBurst: 100_000,
});
const driver = localDriver();
const server = await startLabServer(config, createLogger('error'), () => {}, { driver });
process.stderr.write(`ready: open ${server.url}\n`);
process.on('SIGTERM', () => {
  server.stop().then(() => process.exit(0), (err: Error) => { console.error(err); process.exit(1); });
});
