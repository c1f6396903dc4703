// The terminal WebSocket protocol, defined once for both sides (docs/protocol.md explains it).
// This module runs in the browser and in Node: it uses neither DOM nor Node APIs, nor zod (kept out of the page).

export const PROTOCOL_VERSION = 1;

/** Largest text frame a client may send; the server refuses bigger frames before reading them. */
export const MAX_CLIENT_FRAME_BYTES = 64 * 1024;
/** Largest input string in one message (a paste is split by the client). */
export const MAX_INPUT_CHARS = 16 * 1024;
export const MAX_COLS = 500;
export const MAX_ROWS = 200;

/** Flow control: the server stops reading the shell while this many output bytes are unacknowledged. */
export const FLOW_HIGH_WATER = 512 * 1024;
/** ...and reads again once the client has acknowledged down to this many. */
export const FLOW_LOW_WATER = 384 * 1024;
/** The client acknowledges at least every this many processed bytes (and when output goes quiet). */
export const ACK_EVERY_BYTES = 32 * 1024;

/** Client heartbeat period; the server closes a socket silent for 3 periods. */
export const HEARTBEAT_MS = 10_000;

import type { LabProgress } from './api.js';
import type { SeatNotice } from './workshops.js';

/**
 * What a socket is for, said in its hello (default 'terminal'):
 * - terminal: one terminal of the session the token opens (input, output, resize, acks);
 * - session: the session's one channel for everything that is not a terminal's bytes: lab
 *   progress (`lab`), workshop notices (`seat`), the session's end. Terminal sockets no longer
 *   carry progress: the page follows this channel only, and so does the dashboard's view of it;
 * - view: a read-only view of a seated learner's terminal; the token is a view ticket from
 *   POST /api/workshops/:id/seats/:seat/view. Input is refused (`read-only`) unless the learner
 *   handed control over to the instructor; resizes are ignored (the learner's size stands).
 */
export type Channel = 'terminal' | 'session' | 'view';

// Client messages: their schemas live in validate.ts (the server imports it; the page needs only the types).
export type { ClientMessage, HelloMessage, Hello, TerminalHello, SessionHello, ViewHello } from './validate.js';

// ---- server to client (JSON text frames) ----

export interface ReadyMessage {
  type: 'ready';
  session: string;
  terminal: string;
  /** Output offset the stream continues from (after any replay or snapshot that follows). */
  offset: number;
  cols: number;
  rows: number;
  /** Epoch milliseconds at which the session reaches its maximum lifetime. */
  expiresAt: number;
  idleTimeoutMs: number;
}
export interface PongMessage { type: 'pong'; id: number }
export interface ErrorMessage {
  type: 'error';
  code: ErrorCode;
  message: string;
  /** A fatal error is followed by the server closing the socket with closeCodeFor(code). */
  fatal: boolean;
}
export interface ExitMessage { type: 'exit'; reason: ExitReason; message: string }
/** The lab's step progress, on the session channel only: after `session-ready` and whenever it changes (a Check's outcome too). */
export interface LabMessage { type: 'lab'; progress: LabProgress }
/** The session channel's answer to hello. */
export interface SessionReadyMessage { type: 'session-ready'; session: string; expiresAt: number; idleTimeoutMs: number }
/** Workshop notices to a seated learner, on the session channel. */
export interface SeatMessage { type: 'seat'; notice: SeatNotice }
/**
 * To a view: the viewed terminal's size, before the first snapshot and whenever the learner resizes.
 * Output that follows is laid out at this size (the viewer's page scales its terminal to fit).
 */
export interface ResizedMessage { type: 'resized'; cols: number; rows: number }
/**
 * To a view: who types into the learner's terminal now, and whether this view may (only an
 * instructor's view, while the learner has handed control over). Sent before `ready` and on every change.
 */
export interface ViewControlMessage { type: 'control'; control: 'learner' | 'instructor'; canType: boolean }
export type ServerMessage = ReadyMessage | PongMessage | ErrorMessage | ExitMessage | LabMessage | SessionReadyMessage | SeatMessage
  | ResizedMessage | ViewControlMessage;

export type ExitReason = 'ended' | 'idle-timeout' | 'max-lifetime' | 'shell-exited' | 'replaced' | 'server-stopping' | 'box-failed';

export const ERROR_CODES = {
  'bad-json': 'the frame is not valid JSON',
  'bad-message': 'the message does not match the protocol',
  'too-large': 'the frame is larger than the protocol allows',
  'binary-not-accepted': 'clients send JSON text frames only',
  'hello-first': 'the first message must be hello',
  'hello-twice': 'hello was already received on this socket',
  'hello-timeout': 'no hello came in time after the socket opened',
  'bad-version': 'unsupported protocol version',
  'bad-token': 'no live session has this token',
  'no-terminal': 'the session has no terminal with this id',
  'bad-ack': 'ack is beyond the output sent',
  'rate-limited': 'too many messages',
  'session-ended': 'the session has ended',
  'bad-origin': 'the page origin is not allowed',
  'internal': 'internal server error',
  // Notices about the learner's own box or terminal (never fatal):
  'disk-nearly-full': 'the box has nearly used its disk',
  'input-dropped': 'input was dropped: the shell is not reading it',
  'read-only': 'this is a read-only view: typing needs the learner to hand over control',
  'too-slow': 'this view fell behind the terminal\'s output and was dropped: reconnect (with a new ticket) for a fresh snapshot',
  'wrong-channel': 'this message has no meaning on this socket\'s channel',
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

/** WebSocket close codes (application range 4000-4999). */
export const CLOSE = {
  protocolError: 4002,
  badToken: 4003,
  sessionEnded: 4004,
  replaced: 4005,
  heartbeatTimeout: 4006,
  serverStopping: 4007,
  /** A view that fell behind; its page asks for a new ticket and reconnects (a fresh snapshot). */
  tooSlow: 4008,
  /**
   * This server is stopping and other replicas carry its sessions on: the page reconnects as after
   * any drop (the load balancer sends it to another replica, which adopts the session).
   */
  moving: 4009,
} as const;

/** Errors after which the socket is closed; the others are reported and the socket keeps working. */
export const FATAL_ERRORS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'too-large', 'hello-first', 'hello-timeout', 'bad-version', 'bad-token', 'no-terminal', 'session-ended', 'bad-origin', 'internal', 'too-slow',
]);

export function closeCodeFor(code: ErrorCode): number {
  if (code === 'bad-token' || code === 'no-terminal') return CLOSE.badToken;
  if (code === 'session-ended') return CLOSE.sessionEnded;
  if (code === 'too-slow') return CLOSE.tooSlow;
  return CLOSE.protocolError;
}

// ---- binary frames (server to client) ----
// [1 byte kind][8 bytes offset, float64 big-endian][payload bytes]

export const FRAME_OUTPUT = 1;
/** Payload is a serialized screen: the client resets its terminal and writes it; the stream goes on at offset. */
export const FRAME_SNAPSHOT = 2;
export const BINARY_HEADER_BYTES = 9;

export interface BinaryFrame { kind: typeof FRAME_OUTPUT | typeof FRAME_SNAPSHOT; offset: number; payload: Uint8Array }

export function encodeBinaryFrame(kind: BinaryFrame['kind'], offset: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(BINARY_HEADER_BYTES + payload.byteLength);
  out.set(payload, BINARY_HEADER_BYTES);
  return writeFrameHeader(out, kind, offset);
}

/** Writes the header into the first BINARY_HEADER_BYTES of `frame`, whose payload already follows; returns `frame`. */
export function writeFrameHeader(frame: Uint8Array, kind: BinaryFrame['kind'], offset: number): Uint8Array {
  const view = new DataView(frame.buffer, frame.byteOffset, BINARY_HEADER_BYTES);
  view.setUint8(0, kind);
  view.setFloat64(1, offset);
  return frame;
}

/** `parts` end to end in one new array (with its own ArrayBuffer, so it can be transferred). */
export function joinBytes(parts: readonly Uint8Array[]): Uint8Array {
  const joined = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) { joined.set(p, at); at += p.byteLength; }
  return joined;
}

export function decodeBinaryFrame(bytes: Uint8Array): BinaryFrame {
  if (bytes.byteLength < BINARY_HEADER_BYTES) throw new Error(`binary frame of ${bytes.byteLength} bytes is shorter than its header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const kind = view.getUint8(0);
  if (kind !== FRAME_OUTPUT && kind !== FRAME_SNAPSHOT) throw new Error(`unknown binary frame kind ${kind}`);
  return { kind, offset: view.getFloat64(1), payload: bytes.subarray(BINARY_HEADER_BYTES) };
}

export function errorMessage(code: ErrorCode, detail?: string): ErrorMessage {
  return { type: 'error', code, message: detail ?? ERROR_CODES[code], fatal: FATAL_ERRORS.has(code) };
}
