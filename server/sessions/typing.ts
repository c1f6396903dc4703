// Who is typing now, across all terminals of this server. While some learner types, a terminal
// flooding output is held to a modest rate (TerminalStream.throttle): a flood costs the engine,
// its exec client and this server CPU that everyone's echo waits for. While nobody else types, a
// flood runs at full speed.

/** How long after a keystroke a terminal counts as typing. */
const TYPING_MS = 1500;
const lastTyped = new Map<object, number>();

export function noteTyping(terminal: object): void {
  const now = Date.now();
  lastTyped.set(terminal, now);
  if (lastTyped.size > 64) for (const [t, at] of lastTyped) if (now - at > TYPING_MS) lastTyped.delete(t);
}

/** True when a terminal other than `terminal` was typed into within the last TYPING_MS. */
export function othersTyping(terminal: object): boolean {
  const now = Date.now();
  for (const [t, at] of lastTyped) {
    if (now - at > TYPING_MS) lastTyped.delete(t);
    else if (t !== terminal) return true;
  }
  return false;
}

export function forgetTyping(terminal: object): void {
  lastTyped.delete(terminal);
}
