// Typing commands into a terminal for the guide ("Run" on a code block, "Show me"): each line as
// keyboard input ending with Enter, as if the learner typed it.

/** Pause after Ctrl-C, so the interrupted program has gone before the next line arrives. */
const INTERRUPT_PAUSE_MS = 150;

/** The keyboard input for `text`: one string per line, each ending with Enter ("\r"). */
export function commandLines(text: string): string[] {
  const body = text.replace(/\r\n?/g, '\n').replace(/\n+$/, '');
  return body.split('\n').map((line) => `${line}\r`);
}

/**
 * Types `text` line by line through `send` (Ctrl-C first when `interrupt`). Resolves to false as
 * soon as a piece could not be sent (the terminal is not connected); the rest is not sent.
 */
export async function typeCommands(send: (data: string) => boolean, text: string, interrupt = false): Promise<boolean> {
  if (interrupt) {
    if (!send('\x03')) return false;
    await new Promise((resolve) => setTimeout(resolve, INTERRUPT_PAUSE_MS));
  }
  for (const line of commandLines(text)) {
    if (!send(line)) return false;
  }
  return true;
}
