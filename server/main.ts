// `npm start`: run the lab server until SIGINT/SIGTERM, then remove every box it made.
import { loadConfig } from './config.js';
import { startLabServer } from './lab-server.js';
import { createLogger } from './log.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error(`termlab: ${(err as Error).message}`);
    process.exit(2);
  }
  const log = createLogger(config.logLevel);
  // Long first-run steps (engine install, image builds) report here, on stderr, as they go.
  const progress = (line: string) => process.stderr.write(`${line.startsWith('termlab:') ? '' : 'termlab: '}${line}\n`);
  let server;
  try {
    server = await startLabServer(config, log, progress);
  } catch (err) {
    console.error(`termlab: cannot start: ${(err as Error).message}`);
    process.exit(1);
  }
  progress(`ready: open ${server.url} in your browser`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(130);
    stopping = true;
    progress(`${signal}: removing sandboxes and stopping (again to force)`);
    server.stop().then(() => process.exit(0), (err: Error) => { console.error(err); process.exit(1); });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

void main();
