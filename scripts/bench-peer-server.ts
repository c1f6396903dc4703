// A lab server in a process of its own, for `npm run bench -- --only peer` (scripts/bench-peer.ts):
// what server/main.ts runs, with the bench's limits and the web files from the bench's snapshot of
// dist/web (others may rebuild dist/web while the bench runs). Its memory is measured from outside.
//   PEER_WEB_DIR=DIR TERMLAB_INSTANCE=NAME node --import tsx scripts/bench-peer-server.ts
import { loadConfig } from '../server/config.js';
import { startLabServer } from '../server/lab-server.js';
import { createLogger } from '../server/log.js';

async function main(): Promise<void> {
  // Every session comes from one address: the per-client limits would refuse them (as bench.ts' server()).
  const config = loadConfig(process.env, {
    port: 0, host: '127.0.0.1', logLevel: 'error', pool: { shell: 0, docker: 0, kubernetes: 0 }, maxSessions: 40,
    sessionStartsPerMinute: 6000, sessionStartBurst: 1000, sessionsPerIp: 1000, socketsPerIp: 1000,
    ...(process.env.PEER_WEB_DIR ? { webDir: process.env.PEER_WEB_DIR } : {}),
  });
  const server = await startLabServer(config, createLogger('error'));
  process.stderr.write(`ready: open ${server.url}\n`);
  process.on('SIGTERM', () => {
    server.stop().then(() => process.exit(0), (err: Error) => { console.error(err); process.exit(1); });
  });
}

void main();
