// Validation of client frames (zod): one schema gives both the type and the check.
// The server imports this; the page imports only its types, so zod stays out of the browser bundle.
import { z } from 'zod';
import { ERROR_CODES, MAX_COLS, MAX_INPUT_CHARS, MAX_ROWS, PROTOCOL_VERSION, type ErrorCode } from './messages.js';

const cols = z.number().int().min(2).max(MAX_COLS);
const rows = z.number().int().min(1).max(MAX_ROWS);
const offset = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const token = z.string().regex(/^[A-Za-z0-9_-]{32,128}$/, 'a session token is 32-128 URL-safe characters');
const terminalId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'a terminal id is 1-32 lowercase letters, digits or dashes');

// ---- client to server (JSON text frames) ----

/**
 * hello says what the socket is for (messages.ts Channel). Its fields depend on the channel, which a
 * zod union would report as "no union member matched"; so the fields are checked here and the
 * channel's own rules in helloProblem(), each failure named precisely.
 */
export const HelloMessage = z.strictObject({
  type: z.literal('hello'),
  v: z.literal(PROTOCOL_VERSION),
  /** A session token (terminal, session) or a view ticket (view). */
  token,
  channel: z.enum(['terminal', 'session', 'view']).default('terminal'),
  terminal: terminalId.optional(),
  cols: cols.optional(),
  rows: rows.optional(),
  /** Present when the client still shows output up to this offset: replay continues from there. */
  resumeFrom: offset.optional(),
});
export const InputMessage = z.strictObject({ type: z.literal('input'), data: z.string().min(1).max(MAX_INPUT_CHARS) });
export const ResizeMessage = z.strictObject({ type: z.literal('resize'), cols, rows });
export const AckMessage = z.strictObject({ type: z.literal('ack'), offset });
export const PingMessage = z.strictObject({ type: z.literal('ping'), id: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) });

export const ClientMessage = z.discriminatedUnion('type', [HelloMessage, InputMessage, ResizeMessage, AckMessage, PingMessage]);
/** What a client may send (defaults may be left out). */
export type ClientMessage = z.input<typeof ClientMessage>;
export type HelloMessage = z.input<typeof HelloMessage>;

// What the server works with once a frame passed: a hello narrowed to its channel.
interface HelloBase { type: 'hello'; v: typeof PROTOCOL_VERSION; token: string }
export interface TerminalHello extends HelloBase { channel: 'terminal'; terminal: string; cols: number; rows: number; resumeFrom?: number }
export interface SessionHello extends HelloBase { channel: 'session' }
export interface ViewHello extends HelloBase { channel: 'view'; terminal: string; cols: number; rows: number }
export type Hello = TerminalHello | SessionHello | ViewHello;
export type ParsedClientMessage = Hello | Exclude<z.output<typeof ClientMessage>, { type: 'hello' }>;

export type ParseResult = { ok: true; message: ParsedClientMessage } | { ok: false; code: ErrorCode; message: string };

/** The channel's own rules for a hello whose fields are each valid: what is wrong, or the narrowed hello. */
function helloChannel(h: z.output<typeof HelloMessage>): Hello | string {
  const { type, v, token: t, channel, terminal, cols: c, rows: r, resumeFrom } = h;
  if (channel === 'session') {
    const extra = (['terminal', 'cols', 'rows', 'resumeFrom'] as const).filter((k) => h[k] !== undefined);
    if (extra.length) return `a session hello carries no ${extra.join(', ')}: the session channel has no terminal`;
    return { type, v, token: t, channel };
  }
  if (c === undefined || r === undefined) {
    return `a ${channel} hello needs cols and rows (the size of the page's terminal${channel === 'view' ? '; a view never resizes the learner\'s' : ''})`;
  }
  if (channel === 'view') {
    if (resumeFrom !== undefined) return 'a view hello carries no resumeFrom: a view always starts from a snapshot of the screen';
    return { type, v, token: t, channel, terminal: terminal ?? 'main', cols: c, rows: r };
  }
  return { type, v, token: t, channel, terminal: terminal ?? 'main', cols: c, rows: r, ...(resumeFrom !== undefined ? { resumeFrom } : {}) };
}

/** Validates one client text frame; never throws, whatever the frame holds. */
export function parseClientMessage(text: string): ParseResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, code: 'bad-json', message: ERROR_CODES['bad-json'] };
  }
  if (typeof raw === 'object' && raw !== null && (raw as { type?: unknown }).type === 'hello'
      && (raw as { v?: unknown }).v !== PROTOCOL_VERSION) {
    return { ok: false, code: 'bad-version', message: `${ERROR_CODES['bad-version']}: this server speaks v${PROTOCOL_VERSION}` };
  }
  const parsed = ClientMessage.safeParse(raw);
  if (parsed.success) {
    if (parsed.data.type !== 'hello') return { ok: true, message: parsed.data };
    const hello = helloChannel(parsed.data);
    if (typeof hello === 'string') return { ok: false, code: 'bad-message', message: `${ERROR_CODES['bad-message']}: hello: ${hello}` };
    return { ok: true, message: hello };
  }
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length ? `${issue.path.join('.')}: ` : '';
  return { ok: false, code: 'bad-message', message: `${ERROR_CODES['bad-message']}: ${where}${issue?.message ?? 'invalid'}` };
}

