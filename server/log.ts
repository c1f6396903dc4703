// One structured logger for the whole server (JSON lines on stdout, for operators' log pipelines).
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({ level, base: { svc: 'termlab' } });
}
