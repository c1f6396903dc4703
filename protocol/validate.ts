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

export const HelloMessage = z.strictObject({
  type: z.literal('hello'),
  v: z.literal(PROTOCOL_VERSION),
  token,
  terminal: terminalId.default('main'),
  cols,
  rows,
  /** Present when the client still shows output up to this offset: replay continues from there. */
  resumeFrom: offset.optional(),
});
export const InputMessage = z.strictObject({ type: z.literal('input'), data: z.string().min(1).max(MAX_INPUT_CHARS) });
export const ResizeMessage = z.strictObject({ type: z.literal('resize'), cols, rows });
export const AckMessage = z.strictObject({ type: z.literal('ack'), offset });
export const PingMessage = z.strictObject({ type: z.literal('ping'), id: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) });

export const ClientMessage = z.discriminatedUnion('type', [HelloMessage, InputMessage, ResizeMessage, AckMessage, PingMessage]);
export type ClientMessage = z.infer<typeof ClientMessage>;
export type HelloMessage = z.infer<typeof HelloMessage>;

export type ParseResult = { ok: true; message: ClientMessage } | { ok: false; code: ErrorCode; message: string };

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
  if (parsed.success) return { ok: true, message: parsed.data };
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length ? `${issue.path.join('.')}: ` : '';
  return { ok: false, code: 'bad-message', message: `${ERROR_CODES['bad-message']}: ${where}${issue?.message ?? 'invalid'}` };
}

