// The session channel: one socket per learner page carrying everything about the session that is
// not a terminal's bytes (docs/protocol.md). Lab progress used to arrive on every terminal socket,
// so a page with two terminals heard each change twice and the Check button answered by yet another
// route; now this channel is the one source of truth the page (and through the session, the
// workshop dashboard) follows.
import type { SessionChannelMessage } from '../../protocol/api.js';
import type { ExitReason } from '../../protocol/messages.js';
import type { Session } from './session.js';

/** Where the channel's messages go: the socket that said a `session` hello. */
export interface SessionChannelSocket {
  send(msg: SessionChannelMessage): void;
  /** The session ended: tell the page why and close. */
  exit(reason: ExitReason): void;
}

export class SessionChannel {
  private readonly unsubscribe: Array<() => void>;

  /** Subscribes first, then sends the state as it is now, so no change can fall between the two. */
  constructor(readonly session: Session, socket: SessionChannelSocket) {
    this.unsubscribe = [
      session.onEnd((reason) => socket.exit(reason)),
      // Live reload (`labs dev` only): the lab's files changed; the page swaps the guide, keeps the terminal.
      session.onLabChange((msg) => socket.send(msg)),
      session.runner.onChange((progress) => socket.send({ type: 'lab', progress })),
      session.onSeatNotice((notice) => socket.send({ type: 'seat', notice })),
      // Notices are errors that are never fatal (disk-nearly-full): the page shows them and goes on.
      session.onNotice((code, message) => socket.send({ type: 'error', code, message, fatal: false })),
      // An extension moved the lifetime's end (the bar's time left and the warning follow it).
      session.onLifetime((lifetime) => socket.send({ type: 'lifetime', ...lifetime })),
    ];
    socket.send({ type: 'session-ready', session: session.id, expiresAt: session.expiresAt, idleTimeoutMs: session.idleTimeoutMs });
    socket.send({ type: 'lifetime', ...session.lifetime() });
    socket.send({ type: 'lab', progress: session.runner.progress() });
    // A page opened after the lab's files changed (`labs dev`) learns the open problems too.
    if (session.labChange) socket.send(session.labChange);
    // A page that reconnects learns what it missed: who watches, who types, the workshop's state.
    for (const notice of session.seatState()) socket.send({ type: 'seat', notice });
  }

  dispose(): void {
    this.unsubscribe.splice(0).forEach((off) => off());
  }
}
