// asciicast, the recording format (https://docs.asciinema.org/manual/asciicast/), read and checked
// here for both sides: the page validates a file before playing it, the server before storing or
// serving it. A broken file gets an error naming the line and what is wrong.
//
// Three versions are read and made into one model (absolute event times, the header's width and
// height), so the player and everything else see one shape whatever the file was:
//   v1  one JSON object (asciinema 1.x): width, height, duration, command, title, env and
//       `stdout`: [[delay, data], ...], each delay counted from the previous frame; output only.
//   v2  newline-delimited JSON (asciinema 2.x, what Debian's asciinema reads and termlab writes by
//       default): a header line, then [seconds since start, code, data] per line.
//   v3  newline-delimited JSON (asciinema 3.x): the header has `term: {cols, rows, ...}`, each
//       event's time is the interval since the previous event, lines starting with # are
//       comments, and an `x` event gives the exit status (kept as `exit`, not an event).

export type AsciicastVersion = 1 | 2 | 3;

/** What the error messages say is readable. */
export const SUPPORTED_VERSIONS = 'asciicast v1, v2 and v3';

/** v3's terminal description (its header's `term`). */
export interface AsciicastTerm {
  cols: number;
  rows: number;
  type?: string;
  version?: string;
  theme?: { fg?: string; bg?: string; palette?: string };
}

export interface AsciicastHeader {
  /** The version the file was written in; the fields below are the same for every version. */
  version: AsciicastVersion;
  /** Initial terminal size (v3: `term.cols` and `term.rows`). */
  width: number;
  height: number;
  timestamp?: number;
  duration?: number;
  idle_time_limit?: number;
  command?: string;
  title?: string;
  env?: Record<string, string>;
  /** v3 only, as in the file. */
  term?: AsciicastTerm;
  tags?: string[];
  [key: string]: unknown;
}

/** [seconds since start, code, data]: o output, i input, r resize "COLSxROWS", m marker label. */
export type AsciicastEvent = [number, 'o' | 'i' | 'r' | 'm', string];

/** A v3 `x` event: the recorded program exited with `status`, `time` seconds since the start. */
export interface AsciicastExit { time: number; status: number }

export interface Asciicast { header: AsciicastHeader; events: AsciicastEvent[]; exit?: AsciicastExit }

export class AsciicastError extends Error {
  constructor(readonly line: number, reason: string) {
    super(`line ${line}: ${reason}`);
  }
}

const CODES_V2 = new Set(['o', 'i', 'r', 'm']);
const CODES_V3 = new Set(['o', 'i', 'r', 'm', 'x']);
const MAX_SIZE = 1000;
const RESIZE = /^\d{1,4}x\d{1,4}$/;
const STATUS = /^-?\d{1,10}$/;

/** Seconds to the microsecond: summed intervals do not drift (0.1 + 0.2 is 0.3). */
const micro = (t: number): number => Math.round(t * 1e6) / 1e6;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkSize(v: unknown, line: number, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_SIZE) throw new AsciicastError(line, `header "${name}" must be a whole number from 1 to ${MAX_SIZE}`);
  return v;
}

/** Parses a whole asciicast v1, v2 or v3 file; throws AsciicastError for the first problem. */
export function parseAsciicast(text: string): Asciicast {
  if (!text.trim()) throw new AsciicastError(1, 'the file is empty: an asciicast starts with a JSON header');
  const newline = text.indexOf('\n');
  const first = newline < 0 ? text : text.slice(0, newline);
  let header: unknown;
  try {
    header = JSON.parse(first);
  } catch {
    // A v1 file is one JSON document, usually spread over many lines.
    if (/^\s*\{/.test(text)) {
      let whole: unknown;
      try {
        whole = JSON.parse(text);
      } catch {
        // Broken JSON over several lines is reported where it breaks when it says it is v1; else
        // the first line is a broken v2 or v3 header.
        if (!/"version"\s*:\s*1\s*[,}\s]/.test(text.slice(0, 4096))) throw new AsciicastError(1, `the header is not JSON: is this an asciicast (.cast) file? (${SUPPORTED_VERSIONS} are readable)`);
        const at = jsonSyntaxError(text);
        throw new AsciicastError(lineAt(text, at.offset), `the file is not valid JSON (${at.reason}): an asciicast v1 file is one JSON object`);
      }
      if (isObject(whole) && whole.version === 1) return parseV1(text, whole);
      if (isObject(whole)) {
        throw new AsciicastError(1, `the file is one JSON object over several lines, as only asciicast v1 is, but its "version" is ${JSON.stringify(whole.version)}` +
          ' (asciicast v2 and v3 have one JSON value per line)');
      }
    }
    throw new AsciicastError(1, `the header is not JSON: is this an asciicast (.cast) file? (${SUPPORTED_VERSIONS} are readable)`);
  }
  if (!isObject(header)) throw new AsciicastError(1, 'the header must be a JSON object');
  if (header.version === 1) {
    // A v1 file on one line: everything after it must be blank.
    if (text.slice(first.length).trim()) throw new AsciicastError(2, 'an asciicast v1 file is one JSON object, but more follows it');
    return parseV1(text, header);
  }
  if (header.version === 2) return parseLines(text, header, 2);
  if (header.version === 3) return parseLines(text, header, 3);
  throw new AsciicastError(1, describeVersion(header.version));
}

function describeVersion(version: unknown): string {
  if (version === undefined) return `the header has no "version": ${SUPPORTED_VERSIONS} are readable`;
  return `version ${JSON.stringify(version)} is not supported: ${SUPPORTED_VERSIONS} are`;
}

/** v2 and v3: a header line, then one event per line. */
function parseLines(text: string, raw: Record<string, unknown>, version: 2 | 3): Asciicast {
  let header: AsciicastHeader;
  if (version === 2) {
    header = { ...raw, version, width: checkSize(raw.width, 1, 'width'), height: checkSize(raw.height, 1, 'height') };
  } else {
    const term = raw.term;
    if (!isObject(term)) throw new AsciicastError(1, 'an asciicast v3 header needs "term": {"cols": ..., "rows": ...}');
    header = { ...raw, version, width: checkSize(term.cols, 1, 'term.cols'), height: checkSize(term.rows, 1, 'term.rows') } as AsciicastHeader;
  }
  const intervals = version === 3;
  const codes = intervals ? CODES_V3 : CODES_V2;
  const events: AsciicastEvent[] = [];
  let exit: AsciicastExit | undefined;
  let last = 0;
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const n = i + 1;
    if (!line.trim()) continue;
    if (intervals && line.startsWith('#')) continue; // a v3 comment
    let ev: unknown;
    try {
      ev = JSON.parse(line);
    } catch {
      const lastLine = lines.slice(i + 1).every((l) => !l.trim());
      throw new AsciicastError(n, lastLine && !text.endsWith('\n') ? 'the last event is cut off: the file looks truncated' : 'the event is not valid JSON');
    }
    if (!Array.isArray(ev) || ev.length !== 3) throw new AsciicastError(n, `an event must be [${intervals ? 'interval' : 'time'}, code, data]`);
    const [time, code, data] = ev as [unknown, unknown, unknown];
    let at: number;
    if (intervals) {
      if (typeof time !== 'number' || !Number.isFinite(time)) throw new AsciicastError(n, 'the event interval must be a number of seconds since the previous event');
      if (time < 0) throw new AsciicastError(n, `the event interval ${time} is negative: a v3 event's time counts from the previous event`);
      at = micro(last + time);
    } else {
      if (typeof time !== 'number' || !Number.isFinite(time) || time < 0) throw new AsciicastError(n, 'the event time must be a number of seconds, 0 or more');
      if (time + 1e-6 < last) throw new AsciicastError(n, `the event time ${time} goes back before ${last}`);
      at = time;
    }
    if (typeof code !== 'string' || !codes.has(code)) throw new AsciicastError(n, `unknown event code ${JSON.stringify(code)} (${intervals ? 'o, i, r, m or x' : 'o, i, r or m'})`);
    if (typeof data !== 'string') throw new AsciicastError(n, 'the event data must be a string');
    if (code === 'r' && !RESIZE.test(data)) throw new AsciicastError(n, `a resize event's data must be "COLSxROWS", not ${JSON.stringify(data)}`);
    last = at;
    if (code === 'x') {
      if (!STATUS.test(data)) throw new AsciicastError(n, `an exit event's data must be the status as a whole number, not ${JSON.stringify(data)}`);
      exit = { time: at, status: Number(data) };
      continue;
    }
    events.push([at, code as AsciicastEvent[1], data]);
  }
  return exit ? { header, events, exit } : { header, events };
}

/** v1: one JSON object, output frames with delays. Errors name the line the frame starts on. */
function parseV1(text: string, raw: Record<string, unknown>): Asciicast {
  const { stdout, ...rest } = raw;
  const header: AsciicastHeader = { ...rest, version: 1, width: checkSize(raw.width, 1, 'width'), height: checkSize(raw.height, 1, 'height') };
  if (!Array.isArray(stdout)) throw new AsciicastError(1, 'an asciicast v1 file needs "stdout": [[delay, data], ...]');
  const events: AsciicastEvent[] = [];
  let t = 0;
  let starts: number[] | undefined;
  const fail = (index: number, reason: string): never => {
    starts ??= v1FrameOffsets(text);
    const offset = starts[index];
    throw new AsciicastError(offset === undefined ? 1 : lineAt(text, offset), `stdout frame ${index + 1}: ${reason}`);
  };
  stdout.forEach((frame: unknown, index) => {
    if (!Array.isArray(frame) || frame.length !== 2) return fail(index, 'a frame must be [delay, data]');
    const [delay, data] = frame as [unknown, unknown];
    if (typeof delay !== 'number' || !Number.isFinite(delay)) return fail(index, 'the delay must be a number of seconds since the previous frame');
    if (delay < 0) return fail(index, `the delay ${delay} is negative: a v1 frame's delay counts from the previous frame`);
    if (typeof data !== 'string') return fail(index, 'the frame data must be a string');
    t = micro(t + delay);
    events.push([t, 'o', data]);
  });
  return { header, events };
}

/** Line (from 1) of a character offset. */
function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** Offsets where each element of the top-level object's "stdout" array starts, in valid JSON text. */
function v1FrameOffsets(text: string): number[] {
  const out: number[] = [];
  let depth = 0;
  let key: string | undefined; // the last string read at depth 1
  let inStdout = false;
  let expectElement = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (/\s/.test(c)) continue;
    if (inStdout && depth === 2 && expectElement) {
      out.push(i);
      expectElement = false;
    }
    if (c === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      if (depth === 1) key = JSON.parse(text.slice(start, i + 1)) as string;
    } else if (c === '{' || c === '[') {
      depth++;
      if (depth === 2 && c === '[' && key === 'stdout') { inStdout = true; expectElement = true; }
    } else if (c === '}' || c === ']') {
      if (depth === 2) inStdout = false;
      depth--;
    } else if (c === ',' && inStdout && depth === 2) {
      expectElement = true;
    } else if (c === ',' && depth === 1) {
      key = undefined;
    }
  }
  return out;
}

/** Where JSON text first goes wrong (it is known not to parse), and how. */
function jsonSyntaxError(text: string): { offset: number; reason: string } {
  let i = 0;
  class Stop { constructor(readonly offset: number, readonly reason: string) {} }
  const ws = () => { while (i < text.length && /[ \t\n\r]/.test(text[i]!)) i++; };
  const fail = (reason: string): never => { throw new Stop(i, i >= text.length ? 'it ends too early' : reason); };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++; ws();
      if (text[i] === '}') { i++; return; }
      for (;;) {
        ws();
        if (text[i] !== '"') fail(`expected a quoted key, found ${JSON.stringify(text[i])}`);
        string(); ws();
        if (text[i] !== ':') fail(`expected ":" after a key, found ${JSON.stringify(text[i])}`);
        i++; value(); ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return; }
        fail(`expected "," or "}", found ${JSON.stringify(text[i])}`);
      }
    }
    if (c === '[') {
      i++; ws();
      if (text[i] === ']') { i++; return; }
      for (;;) {
        value(); ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return; }
        fail(`expected "," or "]", found ${JSON.stringify(text[i])}`);
      }
    }
    if (c === '"') return string();
    const m = /^(-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 400));
    if (!m) fail(`unexpected ${JSON.stringify(c)}`);
    i += m![0].length;
  };
  const string = (): void => {
    for (i++; i < text.length; i++) {
      const c = text[i]!;
      if (c === '"') { i++; return; }
      if (c === '\\') { i++; continue; }
      if (c < ' ') fail('a control character inside a string');
    }
    fail('a string is not closed');
  };
  try {
    value(); ws();
    if (i < text.length) fail('something follows the JSON object');
  } catch (err) {
    if (err instanceof Stop) return { offset: err.offset, reason: err.reason };
    throw err;
  }
  return { offset: 0, reason: 'it does not parse' };
}

/**
 * The recording as an asciicast v2 file (absolute times, width and height): what the player is
 * given for a v1 or v3 file, so its clock is the one the chapters were worked out on. The exit
 * status has no v2 event and is left out.
 */
export function toAsciicastV2(cast: Asciicast): string {
  const { version: _v, width, height, term, tags: _t, ...rest } = cast.header;
  const header: Record<string, unknown> = { version: 2, width, height, ...rest };
  if (term?.theme && header.theme === undefined) header.theme = term.theme;
  if (term?.type && !cast.header.env?.TERM) header.env = { ...cast.header.env, TERM: term.type };
  const lines = [JSON.stringify(header), ...cast.events.map((e) => JSON.stringify(e))];
  return `${lines.join('\n')}\n`;
}

/** The recording's length in seconds: its last event, or its exit if that came later. */
export function castDuration(cast: Asciicast): number {
  return Math.max(cast.events.at(-1)?.[0] ?? 0, cast.exit?.time ?? 0);
}

/** The markers of a recording (lab steps), for a chapter list beside the player. */
export function markers(cast: Asciicast): Array<{ time: number; label: string }> {
  return cast.events.filter((e) => e[1] === 'm').map(([time, , label]) => ({ time, label }));
}
