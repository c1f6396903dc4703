// Lab Markdown (step text, hints, intro, finish) to sanitised DOM, with actions on code blocks and
// port links. Authors' text goes through marked, then DOMPurify; nothing is inserted unsanitised.
// What a code block's buttons type comes from marked's token, never from the rendered HTML.
import DOMPurify from 'dompurify';
import { Marked, type Tokens } from 'marked';
import { portPath } from '../../protocol/api.js';

/** What a code fence's info string asks for: ```bash exec terminal=host2 interrupt */
export interface FenceInfo {
  /** The first word ("bash"), or "" when there is none. */
  language: string;
  /** Offer "Run": type the block into a terminal. */
  exec: boolean;
  /** Terminal to type into; undefined means the step's terminal. */
  terminal?: string;
  /** Send Ctrl-C before typing (stops whatever runs in the foreground). */
  interrupt: boolean;
}

export interface CodeBlock extends FenceInfo {
  /** The block's text exactly as written (no trailing newline). */
  text: string;
}

export interface MarkdownContext {
  /** Session id, for port links (/p/<session>/<host>/<port>/...). */
  session: string;
  /** The lab's hosts; a port link without a host means the first. */
  hosts: readonly string[];
}

export function parseFenceInfo(info: string | undefined): FenceInfo {
  const words = (info ?? '').trim().split(/\s+/).filter(Boolean);
  const result: FenceInfo = { language: words[0] ?? '', exec: false, interrupt: false };
  for (const word of words.slice(1)) {
    if (word === 'exec') result.exec = true;
    else if (word === 'interrupt') result.interrupt = true;
    else if (word.startsWith('terminal=') && word.length > 'terminal='.length) result.terminal = word.slice('terminal='.length);
  }
  return result;
}

const PORT_LINK = /^port:\/\/(?:([a-z][a-z0-9-]*):)?(\d{1,5})([/?#][^\s]*)?$/;

/** `port://8080` or `port://host2:8080/path` to the server's path for that port; undefined if malformed. */
export function portHref(href: string, ctx: MarkdownContext): string | undefined {
  const m = PORT_LINK.exec(href);
  if (!m) return undefined;
  const port = Number(m[2]);
  const host = m[1] ?? ctx.hosts[0];
  if (!host || port < 1 || port > 65535) return undefined;
  const rest = m[3] ?? '/';
  return portPath(ctx.session, host, port, rest.startsWith('/') ? rest : `/${rest}`);
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

const BLOCK_ATTR = 'data-tl-block';

export interface RenderedMarkdown {
  /** A `div.md` holding the sanitised content; code blocks are `pre[data-tl-block]`. */
  element: HTMLDivElement;
  /** The code blocks, in document order; `blockOf(pre)` finds a `pre`'s. */
  blocks: CodeBlock[];
  blockOf(pre: Element): CodeBlock | undefined;
}

/**
 * Renders Markdown to sanitised DOM. Links open in a new tab (the page is a running lab); port
 * links point at the session's port proxy. Code blocks keep a per-render key in an attribute, so
 * a `pre` written as raw HTML in the text cannot pose as one of them.
 */
export function renderMarkdown(source: string, ctx: MarkdownContext): RenderedMarkdown {
  const key = crypto.getRandomValues(new Uint32Array(2)).join('');
  const blocks: CodeBlock[] = [];
  const marked = new Marked({
    gfm: true,
    async: false,
    walkTokens(token) {
      if (token.type === 'link' && token.href.startsWith('port://')) {
        // A malformed port link loses its href (DOMPurify would drop the unknown scheme anyway).
        token.href = portHref(token.href, ctx) ?? '';
      }
    },
    renderer: {
      code(token: Tokens.Code): string {
        const index = blocks.push({ ...parseFenceInfo(token.lang), text: token.text }) - 1;
        return `<pre ${BLOCK_ATTR}="${key}:${index}"><code>${escapeHtml(token.text)}</code></pre>\n`;
      },
    },
  });
  const html = marked.parse(source, { async: false });
  const element = document.createElement('div');
  element.className = 'md';
  element.append(DOMPurify.sanitize(html, {
    RETURN_DOM_FRAGMENT: true,
    // Inside the guide's shadow root a <style> or a button would pass for the guide's own.
    FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select', 'dialog'],
    FORBID_ATTR: ['style'],
  }));

  for (const a of element.querySelectorAll('a')) {
    const href = a.getAttribute('href');
    if (!href) {
      a.removeAttribute('href');
      continue;
    }
    if (href.startsWith('#')) continue;
    a.target = '_blank';
    // Port links must take the session's cookie along (it is scoped to /p/<session>/).
    a.rel = href.startsWith('/p/') ? 'noopener' : 'noopener noreferrer';
  }

  const blockOf = (pre: Element): CodeBlock | undefined => {
    const [k, i] = (pre.getAttribute(BLOCK_ATTR) ?? '').split(':');
    return k === key && i !== undefined ? blocks[Number(i)] : undefined;
  };
  // A forged block (raw HTML with the attribute) becomes a plain `pre`.
  for (const pre of element.querySelectorAll(`pre[${BLOCK_ATTR}]`)) {
    if (!blockOf(pre)) pre.removeAttribute(BLOCK_ATTR);
  }
  return { element, blocks, blockOf };
}

export interface CodeBlockActions {
  /** Terminal a Run button types into when the block names none. */
  defaultTerminal: string;
  /** A label naming the terminal a Run button types into; undefined shows none (one terminal). */
  terminalLabel?(id: string): string | undefined;
  /** Types the block into the terminal; false when it could not. */
  run(block: CodeBlock, terminal: string): boolean;
  copy(text: string): Promise<boolean>;
}

function button(label: string, testId: string, title: string): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'small code-action';
  b.dataset.testid = testId;
  b.title = title;
  b.textContent = label;
  return b;
}

/** Briefly shows `text` on a button, then its label again. */
function flash(b: HTMLButtonElement, text: string, label: string): void {
  b.textContent = text;
  clearTimeout(Number(b.dataset.flash));
  b.dataset.flash = String(setTimeout(() => { b.textContent = label; }, 1500));
}

/**
 * Wraps each code block of a rendered text in a frame with a Copy button, and a Run button for
 * `exec` blocks. Buttons are built with DOM calls; their labels are plain text.
 */
export function decorateCodeBlocks(rendered: RenderedMarkdown, actions: CodeBlockActions): void {
  for (const pre of rendered.element.querySelectorAll('pre')) {
    const block = rendered.blockOf(pre);
    const frame = document.createElement('div');
    frame.className = 'code';
    const bar = document.createElement('div');
    bar.className = 'code-bar';
    const terminal = block?.terminal ?? actions.defaultTerminal;
    const label = (block?.exec ? actions.terminalLabel?.(terminal) : undefined) ?? block?.language;
    if (label) {
      const where = document.createElement('span');
      where.className = 'code-where';
      where.textContent = label;
      bar.append(where);
    }
    const text = block?.text ?? pre.textContent ?? '';
    const copy = button('Copy', 'copy', 'Copy to the clipboard');
    copy.addEventListener('click', () => {
      void actions.copy(text).then((ok) => flash(copy, ok ? 'Copied' : 'Copy failed', 'Copy'));
    });
    bar.append(copy);
    if (block?.exec) {
      frame.classList.add('exec');
      const run = button('▶ Run', 'run', `Type this into the terminal${block.interrupt ? ' (after Ctrl-C)' : ''}`);
      run.classList.add('run');
      run.dataset.terminal = terminal;
      run.addEventListener('click', () => {
        flash(run, actions.run(block, terminal) ? '✓ Sent' : 'Not connected', '▶ Run');
      });
      bar.append(run);
    }
    pre.replaceWith(frame);
    frame.append(bar, pre);
  }
}
