// Killercoda step text to termlab step text. Killercoda marks actions AFTER code: a closing fence
// "```{{exec}}" or inline "`ls`{{exec}}"; termlab marks them on the opening fence ("```bash exec").
// The commands marked exec are also collected: an imported step without a solution of its own
// gets them as its solution ("Show me" types what the learner would have clicked).

export interface ConvertedMarkdown {
  markdown: string;
  /** Commands marked {{exec}}, in order: the step's fallback solution. */
  execs: string[];
  /** What could not be carried over, for the import's warning list. */
  warnings: string[];
}

type Action = { kind: 'exec'; interrupt: boolean } | { kind: 'copy' } | { kind: 'none' };

/** "exec", "execute interrupt", "copy", "" (copy turned off)... → what termlab can do with it. */
function parseAction(annotation: string, warnings: string[], where: string): Action {
  const words = annotation.trim().split(/\s+/).filter(Boolean);
  const [verb, ...rest] = words;
  if (verb === undefined) return { kind: 'none' };
  if (verb === 'exec' || verb === 'execute') {
    const interrupt = rest.includes('interrupt');
    const other = rest.filter((w) => w !== 'interrupt');
    // Killercoda's "{{exec T2}}" picks a second terminal tab; an imported lab has one terminal.
    if (other.length) warnings.push(`${where}: {{${annotation.trim()}}}: "${other.join(' ')}" is not supported (runs in the lab's terminal)`);
    return { kind: 'exec', interrupt };
  }
  if (verb === 'copy') return { kind: 'copy' };
  warnings.push(`${where}: {{${annotation.trim()}}} is not supported (shown as plain code)`);
  return { kind: 'none' };
}

/** termlab's opening fence for a block with this action. */
function fence(marker: string, language: string, action: Action): string {
  const flags = action.kind === 'exec' ? (action.interrupt ? ' exec interrupt' : ' exec') : '';
  return `${marker}${language || (flags ? 'bash' : '')}${flags}`;
}

const OPEN = /^(\s*)(`{3,}|~{3,})(.*)$/;
/** A closing fence, optionally followed by Killercoda's annotation. */
const CLOSE = /^(\s*)(`{3,}|~{3,})\s*(?:\{\{([^}]*)\}\})?\s*$/;
const INLINE = /`([^`\n]+)`\{\{([^}]*)\}\}/g;
/** Killercoda's link to a port of the first host: {{TRAFFIC_HOST1_8080}}. */
const TRAFFIC = /\{\{TRAFFIC_HOST1_(\d{1,5})\}\}/g;

/** Converts one Markdown file; `where` names it in warnings ("step1/text.md"). */
export function convertMarkdown(source: string, where: string): ConvertedMarkdown {
  const warnings: string[] = [];
  const execs: string[] = [];
  const out: string[] = [];
  const lines = source.replace(/\r\n/g, '\n').split('\n');
  let open: { at: number; indent: string; marker: string; language: string; body: string[] } | undefined;

  lines.forEach((line, i) => {
    if (open) {
      const close = CLOSE.exec(line);
      if (close && close[2]!.startsWith(open.marker[0]!) && close[2]!.length >= open.marker.length) {
        const action = parseAction(close[3] ?? '', warnings, `${where}:${i + 1}`);
        out[open.at] = fence(`${open.indent}${open.marker}`, open.language, action);
        if (action.kind === 'exec') execs.push(open.body.join('\n'));
        out.push(`${close[1]}${close[2]}`);
        open = undefined;
        return;
      }
      open.body.push(line);
      out.push(line);
      return;
    }
    const start = OPEN.exec(line);
    if (start) {
      const words = start[3]!.trim().split(/\s+/).filter(Boolean);
      // termlab reads words after the language as actions; Killercoda's info strings have none.
      if (words.length > 1) warnings.push(`${where}:${i + 1}: code block info "${start[3]!.trim()}": only the language "${words[0]}" is kept`);
      open = { at: out.length, indent: start[1]!, marker: start[2]!, language: words[0] ?? '', body: [] };
      out.push(line);
      return;
    }
    out.push(...convertProseLine(line, `${where}:${i + 1}`, execs, warnings));
  });
  if (open) warnings.push(`${where}: a code block opened at line ${open.at + 1} is not closed`);
  return { markdown: out.join('\n'), execs, warnings };
}

/**
 * A line outside code blocks: annotated inline code becomes a code block termlab can run (alone on
 * its line: in its place; inside a sentence: the sentence keeps plain code, the block follows it).
 */
function convertProseLine(line: string, where: string, execs: string[], warnings: string[]): string[] {
  let text = line.replace(TRAFFIC, 'port://$1');
  const blocks: string[] = [];
  const only = /^\s*`([^`\n]+)`\{\{([^}]*)\}\}\s*$/.exec(text);
  if (only) {
    const action = parseAction(only[2]!, warnings, where);
    if (action.kind === 'exec') execs.push(only[1]!);
    if (action.kind === 'none') return [`\`${only[1]}\``];
    // A copy-only line becomes a block too: termlab's Copy button is on code blocks.
    return [fence('```', 'bash', action), only[1]!, '```'];
  }
  text = text.replace(INLINE, (_m, code: string, annotation: string) => {
    const action = parseAction(annotation, warnings, where);
    if (action.kind === 'exec') {
      execs.push(code);
      blocks.push(fence('```', 'bash', action), code, '```');
    }
    return `\`${code}\``;
  });
  // The page serves no files of a lab: a picture kept beside the scenario's text shows as broken.
  for (const m of text.matchAll(/!\[[^\]]*\]\((?!https?:\/\/)([^)\s]+)/g)) {
    warnings.push(`${where}: image ${m[1]} is a file of the scenario, which the page cannot show: put it on the web and link to it, or remove it`);
  }
  // Braces inside inline code are the command's own (jsonpath, Go templates), not placeholders.
  for (const m of text.replace(/`[^`]*`/g, '').matchAll(/\{\{\s*([A-Za-z_][^}]*)\}\}/g)) {
    warnings.push(`${where}: placeholder {{${m[1]}}} is not supported (left as text)`);
  }
  return blocks.length ? [text, '', ...blocks] : [text];
}
