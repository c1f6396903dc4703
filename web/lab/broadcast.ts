// An instructor's broadcast, as the learner's page shows it: code in backticks gets a Copy button.

/** A broadcast's text in pieces: plain text, and `code` or ```code``` spans (copyable). */
export function splitBroadcast(message: string): Array<{ code: boolean; text: string }> {
  const parts: Array<{ code: boolean; text: string }> = [];
  const re = /```(?:[a-z]*\n)?([\s\S]*?)```|`([^`\n]+)`/g;
  let last = 0;
  for (let m = re.exec(message); m; m = re.exec(message)) {
    if (m.index > last) parts.push({ code: false, text: message.slice(last, m.index) });
    parts.push({ code: true, text: (m[1] ?? m[2] ?? '').replace(/\n$/, '') });
    last = m.index + m[0].length;
  }
  if (last < message.length) parts.push({ code: false, text: message.slice(last) });
  return parts;
}
