// asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/): the recording format, read and
// checked here for both sides: the page validates a file before playing it, the server before
// storing or serving it. A broken file gets an error naming the line and what is wrong.

export interface AsciicastHeader {
  version: 2;
  width: number;
  height: number;
  timestamp?: number;
  duration?: number;
  idle_time_limit?: number;
  title?: string;
  env?: Record<string, string>;
  [key: string]: unknown;
}

/** [seconds since start, code, data]: o output, i input, r resize "COLSxROWS", m marker label. */
export type AsciicastEvent = [number, 'o' | 'i' | 'r' | 'm', string];

export interface Asciicast { header: AsciicastHeader; events: AsciicastEvent[] }

export class AsciicastError extends Error {
  constructor(readonly line: number, reason: string) {
    super(`line ${line}: ${reason}`);
  }
}

const CODES = new Set(['o', 'i', 'r', 'm']);

/** Parses a whole asciicast v2 file; throws AsciicastError for the first problem. */
export function parseAsciicast(text: string): Asciicast {
  if (!text.trim()) throw new AsciicastError(1, 'the file is empty: an asciicast starts with a JSON header line');
  const lines = text.split('\n');
  let header: unknown;
  try {
    header = JSON.parse(lines[0]!);
  } catch {
    throw new AsciicastError(1, 'the header is not JSON: is this an asciicast v2 (.cast) file?');
  }
  const h = header as Partial<AsciicastHeader>;
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new AsciicastError(1, 'the header must be a JSON object');
  if (h.version !== 2) throw new AsciicastError(1, `version ${JSON.stringify(h.version)} is not supported: only asciicast v2`);
  for (const key of ['width', 'height'] as const) {
    const v = h[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 1000) throw new AsciicastError(1, `header "${key}" must be a whole number from 1 to 1000`);
  }
  const events: AsciicastEvent[] = [];
  let last = 0;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.trim()) {
      if (i === lines.length - 1) break;
      continue;
    }
    let ev: unknown;
    try {
      ev = JSON.parse(line);
    } catch {
      throw new AsciicastError(i + 1, i === lines.length - 1 ? 'the last event is cut off: the file looks truncated' : 'the event is not valid JSON');
    }
    if (!Array.isArray(ev) || ev.length !== 3) throw new AsciicastError(i + 1, 'an event must be [time, code, data]');
    const [time, code, data] = ev as [unknown, unknown, unknown];
    if (typeof time !== 'number' || !Number.isFinite(time) || time < 0) throw new AsciicastError(i + 1, 'the event time must be a number of seconds, 0 or more');
    if (time + 1e-6 < last) throw new AsciicastError(i + 1, `the event time ${time} goes back before ${last}`);
    if (typeof code !== 'string' || !CODES.has(code)) throw new AsciicastError(i + 1, `unknown event code ${JSON.stringify(code)} (o, i, r or m)`);
    if (typeof data !== 'string') throw new AsciicastError(i + 1, 'the event data must be a string');
    if (code === 'r' && !/^\d{1,4}x\d{1,4}$/.test(data)) throw new AsciicastError(i + 1, `a resize event's data must be "COLSxROWS", not ${JSON.stringify(data)}`);
    last = time;
    events.push([time, code as AsciicastEvent[1], data]);
  }
  return { header: h as AsciicastHeader, events };
}

/** The markers of a recording (lab steps), for a chapter list beside the player. */
export function markers(cast: Asciicast): Array<{ time: number; label: string }> {
  return cast.events.filter((e) => e[1] === 'm').map(([time, , label]) => ({ time, label }));
}
