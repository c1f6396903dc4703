import { LitElement, css, html, nothing, type PropertyValues } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { LabContent, LabFileProblem, LabProgress, StepStatus } from '../../protocol/api.js';
import { checkStep, errorText, getStepSolution, reportHint } from '../api.js';
import { copyText } from '../clipboard.js';
import { decorateCodeBlocks, renderMarkdown, type CodeBlock } from '../lab/markdown.js';
import { buttonStyles, markdownStyles } from './shared-styles.js';
import type { TlWalkthroughDialog } from './tl-walkthrough-dialog.js';
import './tl-walkthrough-dialog.js';
import './tl-lab-problems.js';

/** Text to type into a lab terminal as keyboard input, line by line, each line ending with Enter. */
export interface TypeInputDetail {
  terminal: string;
  text: string;
  /** Send Ctrl-C first. */
  interrupt: boolean;
}
/** Cancelable: whoever types the text calls preventDefault(), so an unhandled event means "not typed". */
export type TlTypeInputEvent = CustomEvent<TypeInputDetail>;

/** sessionStorage: the steps whose foreground this tab typed, so a reload does not type them again. */
const FOREGROUND_KEY = 'termlab.foreground';
/** The terminal may still be connecting when a foreground is due (the first step, at load): retry this often, this many times. */
const FOREGROUND_RETRY_MS = 500;
const FOREGROUND_TRIES = 40;

/** A workshop seat's next lab, offered on the finish page; `busy` while the page moves there. */
export interface NextLabOffer {
  title: string;
  busy: boolean;
  /** Why moving on failed, for people. */
  error?: string;
}

/**
 * The lab guide beside the terminal: title, progress, the steps with their status, the step's
 * text (Markdown with Run and Copy buttons on code blocks), hints one at a time, Check, Show me,
 * the check's feedback, the introduction and the finish page.
 *
 * Progress comes in from outside only (`progress`, the session channel's `lab` messages): steps turn
 * green by themselves, and Check just asks the server to check (its answer is an acknowledgement;
 * the outcome arrives on the channel like every other change). The guide calls the check, solution
 * and hint APIs itself; in a workshop (`reportHints`) opening a hint is reported for the instructor's report.
 * A manual step (no check) offers "Done, next step" in place of Check: the same request, which the
 * server answers by completing the step. A step's `foreground` is typed into its terminal once, when
 * the step becomes current (Killercoda's foreground scripts).
 *
 * @fires tl-type-input - `CustomEvent<TypeInputDetail>` (cancelable): type this into a terminal
 *   (Run on a code block, Show me). The handler calls preventDefault() once it has typed it.
 * @fires tl-next-lab - `CustomEvent<undefined>`: "Next lab" pressed on the finish page (`nextLab`).
 */
@customElement('tl-guide')
export class TlGuide extends LitElement {
  static override styles = [
    buttonStyles,
    markdownStyles,
    css`
      :host {
        display: flex;
        flex-direction: column;
        box-sizing: border-box;
        min-height: 0;
        min-width: 0;
        background: var(--tl-surface, #161b22);
        border: 1px solid var(--tl-border, #30363d);
        border-radius: var(--tl-radius, 10px);
        overflow: hidden;
        font-size: 0.9375rem;
      }
      .head {
        flex: none;
        padding: 0.875rem 1rem 0.75rem;
        border-bottom: 1px solid var(--tl-border, #30363d);
      }
      .title-row {
        display: flex;
        flex-wrap: wrap;
        align-items: flex-start;
        gap: 0.75rem;
        margin: 0 0 0.625rem;
      }
      h2 {
        flex: 1 1 auto;
        margin: 0;
        font-size: 1.0625rem;
        line-height: 1.3;
        letter-spacing: -0.01em;
      }
      .progress {
        display: flex;
        align-items: center;
        gap: 0.75rem;
        font-size: 0.8125rem;
        color: var(--tl-muted, #8b949e);
        font-variant-numeric: tabular-nums;
      }
      .bar {
        flex: 1 1 auto;
        height: 6px;
        border-radius: 3px;
        background: var(--tl-surface-3, #30363d);
        overflow: hidden;
      }
      .bar > span {
        display: block;
        height: 100%;
        border-radius: 3px;
        background: var(--tl-ok, #3fb950);
        transition: width 300ms ease-out;
      }
      .scroll {
        flex: 1 1 auto;
        min-height: 0;
        overflow-y: auto;
        padding: 0.75rem 1rem 1rem;
        scrollbar-gutter: stable;
      }
      details.intro {
        margin-bottom: 0.75rem;
        border: 1px solid var(--tl-border, #30363d);
        border-radius: var(--tl-radius-sm, 6px);
        background: var(--tl-bg, #0b0e13);
      }
      details.intro summary {
        cursor: pointer;
        padding: 0.5rem 0.75rem;
        font-weight: 600;
        font-size: 0.875rem;
        color: var(--tl-muted, #8b949e);
      }
      details.intro summary:hover { color: var(--tl-text, #e6edf3); }
      details.intro .md {
        padding: 0 0.875rem 0.75rem;
      }
      ol.steps {
        list-style: none;
        margin: 0 0 1rem;
        padding: 0;
        display: flex;
        flex-direction: column;
        gap: 2px;
      }
      .step-item {
        width: 100%;
        justify-content: flex-start;
        gap: 0.625rem;
        min-height: 2.125rem;
        padding: 0.25rem 0.5rem;
        border: 1px solid transparent;
        background: none;
        font-weight: 500;
        text-align: left;
        white-space: normal;
        line-height: 1.3;
        color: var(--tl-muted, #8b949e);
      }
      .step-item:hover:not(:disabled) {
        background: var(--tl-surface-2, #21262d);
        border-color: transparent;
      }
      .step-item:disabled { opacity: 1; }
      .step-item[data-status='current'] { color: var(--tl-text, #e6edf3); font-weight: 600; }
      .step-item[data-status='done'] { color: var(--tl-text, #e6edf3); }
      .step-item.viewing {
        background: var(--tl-surface-2, #21262d);
        border-color: var(--tl-border-strong, #3d444d);
      }
      .marker {
        flex: none;
        display: inline-grid;
        place-items: center;
        width: 1.375rem;
        height: 1.375rem;
        border-radius: 50%;
        font-size: 0.75rem;
        font-weight: 700;
        border: 1.5px solid var(--tl-border-strong, #3d444d);
        color: var(--tl-muted, #8b949e);
        transition: background-color 200ms, border-color 200ms;
      }
      [data-status='current'] .marker {
        border-color: var(--tl-accent, #58a6ff);
        color: var(--tl-accent, #58a6ff);
      }
      [data-status='done'] .marker {
        border-color: var(--tl-ok, #3fb950);
        background: var(--tl-ok, #3fb950);
        color: #0d1117;
      }
      article.step, section.finish {
        border-top: 1px solid var(--tl-border, #30363d);
        padding-top: 0.875rem;
      }
      .eyebrow {
        margin: 0 0 0.25rem;
        font-size: 0.75rem;
        font-weight: 600;
        letter-spacing: 0.04em;
        text-transform: uppercase;
        color: var(--tl-muted, #8b949e);
      }
      .eyebrow .ok { color: var(--tl-ok, #3fb950); }
      h3 {
        margin: 0 0 0.75rem;
        font-size: 1.0625rem;
        line-height: 1.3;
      }
      .hints {
        display: flex;
        flex-direction: column;
        gap: 0.5rem;
        margin-top: 1rem;
      }
      .hint {
        padding: 0.5rem 0.75rem;
        border-radius: var(--tl-radius-sm, 6px);
        background: var(--tl-bg, #0b0e13);
        border: 1px dashed var(--tl-border-strong, #3d444d);
      }
      .hint-label {
        display: block;
        margin-bottom: 0.25rem;
        font-size: 0.75rem;
        font-weight: 600;
        color: var(--tl-warn, #d29922);
      }
      section.finish .badge {
        display: inline-grid;
        place-items: center;
        width: 2.25rem;
        height: 2.25rem;
        margin-bottom: 0.5rem;
        border-radius: 50%;
        background: var(--tl-ok, #3fb950);
        color: #0d1117;
        font-weight: 700;
        font-size: 1.125rem;
      }
      section.finish .next {
        display: flex;
        flex-direction: column;
        align-items: flex-start;
        gap: 0.5rem;
        margin-top: 1rem;
      }
      .foot {
        flex: none;
        display: flex;
        flex-direction: column;
        gap: 0.625rem;
        padding: 0.75rem 1rem;
        border-top: 1px solid var(--tl-border, #30363d);
        background: var(--tl-surface, #161b22);
      }
      .feedback {
        margin: 0;
        padding: 0.5rem 0.75rem;
        border-left: 3px solid var(--tl-warn, #d29922);
        border-radius: 0 var(--tl-radius-sm, 6px) var(--tl-radius-sm, 6px) 0;
        background: var(--tl-surface-2, #21262d);
        font-size: 0.875rem;
        white-space: pre-wrap;
        overflow-wrap: anywhere;
        max-height: 8rem;
        overflow-y: auto;
      }
      .feedback strong { font-weight: 600; }
      .error {
        margin: 0;
        font-size: 0.8125rem;
        color: var(--tl-danger, #f85149);
      }
      .done-note {
        margin: 0;
        font-size: 0.875rem;
        color: var(--tl-ok, #3fb950);
      }
      .actions {
        display: flex;
        align-items: center;
        gap: 0.5rem;
        flex-wrap: wrap;
      }
      .actions .check { margin-left: auto; min-width: 6.5rem; }
      .sr-only {
        position: absolute;
        width: 1px;
        height: 1px;
        overflow: hidden;
        clip-path: inset(50%);
        white-space: nowrap;
      }
      @media (prefers-reduced-motion: reduce) {
        .bar > span, .marker { transition: none; }
      }
      /* Stacked above the terminal (tl-app's narrow layout): the steps become a row of markers. */
      @media (max-width: 720px) {
        .head { padding: 0.625rem 0.75rem 0.5rem; }
        .title-row { margin-bottom: 0.375rem; }
        h2 { font-size: 1rem; }
        .scroll { padding: 0.5rem 0.75rem 0.75rem; }
        ol.steps { flex-direction: row; flex-wrap: wrap; gap: 0.25rem; margin-bottom: 0.625rem; }
        .step-item { width: auto; min-height: 2rem; padding: 0.125rem 0.25rem; }
        .step-item .title { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
        article.step, section.finish { padding-top: 0.5rem; }
        .foot { padding: 0.5rem 0.75rem; gap: 0.5rem; }
      }
    `,
  ];

  /** What the guide shows (GET /api/sessions/:id/lab). */
  @property({ attribute: false }) lab: LabContent | undefined;
  /** The latest progress (the server's `lab` messages); undefined until the first arrives. */
  @property({ attribute: false }) progress: LabProgress | undefined;
  /** Session id, for the API calls and port links. */
  @property() session = '';
  /** Session token (Bearer). */
  @property() token = '';
  /** Tell the server which hints are opened (a workshop seat: the instructor's report counts them). */
  @property({ type: Boolean }) reportHints = false;
  /** The lab ships a recorded walkthrough: the head offers "Watch the walkthrough". */
  @property({ type: Boolean }) walkthrough = false;
  /** A workshop seat with a lab after this one: the finish page offers "Next lab: <title>". */
  @property({ attribute: false }) nextLab: NextLabOffer | undefined;
  /** Live reload (`labs dev`): why the files on disk do not load, shown beside their step (or at the top). */
  @property({ attribute: false }) problems: readonly LabFileProblem[] = [];
  /** Live reload: what the last reload did to the progress or could not apply. */
  @property({ attribute: false }) reloadNotes: readonly string[] = [];

  /** Step shown (index); undefined follows the current step (or the finish page). */
  @state() private selected: number | undefined;
  /** How many hints each step shows. */
  @state() private hintsShown: ReadonlyMap<number, number> = new Map();
  /** The person opened or closed the introduction; undefined: open until a step is done. */
  @state() private introOpen: boolean | undefined;
  @state() private checkBusy = false;
  @state() private showMeBusy = false;
  @state() private actionError = '';
  @state() private announcement = '';

  /** After the next render, scroll the shown step (or finish page) into view. */
  private scrollToContent = false;
  /** A foreground waiting for its terminal to connect. */
  private foregroundTimer: ReturnType<typeof setTimeout> | undefined;

  /** Rendered Markdown by place ("step:2", "hint:2:0", "intro", ...), for the current lab. */
  private readonly rendered = new Map<string, HTMLElement>();

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('lab') || changed.has('session')) {
      this.rendered.clear();
      if (changed.get('lab')?.id !== this.lab?.id || changed.has('session')) {
        this.selected = undefined;
        this.hintsShown = new Map();
        this.introOpen = undefined;
      }
    }
    if (changed.has('progress')) {
      const before = changed.get('progress');
      const now = this.progress;
      const replayEnded = before?.replay?.state === 'running' && now?.replay?.state !== 'running';
      if ((before && now && before.current !== now.current) || replayEnded) {
        // A step was done (or the lab moved on, or a continued lab reached where it was left): show what comes next.
        this.selected = undefined;
        this.actionError = '';
        this.scrollToContent = true;
      } else if (!before && now && now.current > 0) {
        // Back in a lab begun earlier (a reload, a continued lab): the step to do next, in view.
        this.scrollToContent = true;
      }
      if (before && now) {
        const newlyDone = now.steps.findIndex((s, i) => s === 'done' && before.steps[i] !== 'done');
        if (now.finished && !before.finished) this.announcement = 'All steps done: lab finished.';
        else if (newlyDone >= 0) this.announcement = `Step ${newlyDone + 1} done.`;
      }
    }
  }

  protected override render() {
    const lab = this.lab;
    if (!lab) return nothing;
    const statuses = this.statuses(lab);
    const total = lab.steps.length;
    const done = statuses.filter((s) => s === 'done').length;
    const current = this.progress?.current ?? 0;
    const finished = this.progress?.finished ?? false;
    const viewing = this.selected ?? (finished ? total : current);
    const introOpen = this.introOpen ?? (done === 0 && !finished);
    return html`
      <div class="head">
        <div class="title-row">
          <h2>${lab.title}</h2>
          ${this.walkthrough
            ? html`<button class="small" data-testid="watch-walkthrough" title="Watch a recorded run through this lab"
                           @click=${() => void this.renderRoot.querySelector<TlWalkthroughDialog>('tl-walkthrough-dialog')?.show(lab)}>
                ▶ Watch the walkthrough
              </button>
              <tl-walkthrough-dialog></tl-walkthrough-dialog>`
            : nothing}
        </div>
        <div class="progress" data-testid="progress" data-done=${done} data-total=${total}
             role="progressbar" aria-label="Steps done" aria-valuemin="0" aria-valuemax=${total} aria-valuenow=${done}>
          <span class="bar"><span style="width: ${total ? (100 * done) / total : 0}%"></span></span>
          <span>${done} of ${total} done</span>
        </div>
      </div>
      <div class="scroll">
        ${this.renderLabProblems()}
        ${lab.intro.trim()
          ? html`<details class="intro" data-testid="lab-intro" ?open=${introOpen}>
              <summary @click=${(ev: Event) => { ev.preventDefault(); this.introOpen = !introOpen; }}>Introduction</summary>
              ${this.markdown('intro', lab.intro, this.firstTerminal(lab))}
            </details>`
          : nothing}
        <ol class="steps" aria-label="Steps">
          ${lab.steps.map((step, i) => {
            const status = statuses[i]!;
            return html`<li>
              <button class="step-item ${i === viewing ? 'viewing' : ''}" data-testid="step-${i + 1}" data-status=${status}
                      aria-current=${status === 'current' ? 'step' : nothing} ?disabled=${status === 'pending'}
                      title=${status === 'pending' ? `${step.title} (do the steps before this one first)` : step.title}
                      @click=${() => this.show(i)}>
                <span class="marker" aria-hidden="true">${status === 'done' ? '✓' : i + 1}</span>
                <span class="title">${step.title}<span class="sr-only"> (${status})</span></span>
              </button>
              ${this.renderStepProblems(i)}
            </li>`;
          })}
        </ol>
        ${viewing >= total ? this.renderFinish(lab) : this.renderStep(lab, viewing, statuses[viewing]!)}
        <div class="sr-only" role="status" aria-live="polite">${this.announcement}</div>
      </div>
      ${this.renderFoot(lab, viewing, statuses, finished)}
    `;
  }

  /** Live reload: problems in lab-level files (lab.yaml, intro.md, finish.md, a new step file) and the reload's notes. */
  private renderLabProblems() {
    const problems = this.problems.filter((p) => p.step === undefined);
    if (problems.length === 0 && this.reloadNotes.length === 0) return nothing;
    return html`<tl-lab-problems data-testid="lab-problems" .problems=${problems} .notes=${this.reloadNotes}></tl-lab-problems>`;
  }

  /** Live reload: problems in this step's file, under its entry in the step list (always in view). */
  private renderStepProblems(index: number) {
    const problems = this.problems.filter((p) => p.step === index);
    if (problems.length === 0) return nothing;
    return html`<tl-lab-problems data-testid="step-problems-${index + 1}" .problems=${problems}></tl-lab-problems>`;
  }

  private renderStep(lab: LabContent, index: number, status: StepStatus) {
    const step = lab.steps[index]!;
    const shown = Math.min(this.hintsShown.get(index) ?? 0, step.hints.length);
    return html`
      <article class="step" data-testid="step-content" data-step=${index + 1}>
        <p class="eyebrow">Step ${index + 1} of ${lab.steps.length}${status === 'done' ? html` · <span class="ok">done ✓</span>` : nothing}</p>
        <h3>${step.title}</h3>
        ${this.markdown(`step:${index}`, step.text, step.terminal)}
        ${shown > 0
          ? html`<div class="hints">
              ${step.hints.slice(0, shown).map((hint, h) => html`
                <div class="hint" data-testid="hint">
                  <span class="hint-label">Hint ${h + 1} of ${step.hints.length}</span>
                  ${this.markdown(`hint:${index}:${h}`, hint, step.terminal)}
                </div>`)}
            </div>`
          : nothing}
      </article>
    `;
  }

  private renderFinish(lab: LabContent) {
    return html`
      <section class="finish" data-testid="lab-finished">
        <div class="badge" aria-hidden="true">✓</div>
        ${lab.finish.trim()
          ? this.markdown('finish', lab.finish, this.firstTerminal(lab))
          : html`<div class="md"><p>You have done every step of this lab.</p></div>`}
        ${this.nextLab ? this.renderNextLab(this.nextLab) : nothing}
      </section>
    `;
  }

  private renderNextLab(next: NextLabOffer) {
    return html`<div class="next">
      <button class="primary" data-testid="next-lab" ?disabled=${next.busy} aria-busy=${next.busy ? 'true' : 'false'}
              @click=${() => this.dispatchEvent(new CustomEvent('tl-next-lab', { bubbles: true, composed: true }))}>
        ${next.busy ? html`<span class="spinner" aria-hidden="true"></span>` : nothing}Next lab: ${next.title}
      </button>
      ${next.error ? html`<p class="error" role="alert" data-testid="next-lab-error">${next.error}</p>` : nothing}
    </div>`;
  }

  private renderFoot(lab: LabContent, viewing: number, statuses: StepStatus[], finished: boolean) {
    const total = lab.steps.length;
    const current = this.progress?.current ?? 0;
    const error = this.actionError ? html`<p class="error" role="alert">${this.actionError}</p>` : nothing;
    if (viewing >= total) return error === nothing ? nothing : html`<div class="foot">${error}</div>`;
    if (viewing !== current || statuses[viewing] === 'done') {
      return html`
        <div class="foot">
          ${error}
          <div class="actions">
            <p class="done-note">✓ You have done this step.</p>
            <button class="small check" @click=${() => this.show(undefined)}>
              ${finished ? 'Back to the end' : `Back to step ${current + 1}`}
            </button>
          </div>
        </div>`;
    }
    const step = lab.steps[viewing]!;
    const shown = this.hintsShown.get(viewing) ?? 0;
    const checking = this.checkBusy || (this.progress?.checking ?? false);
    // A continued lab's earlier steps are being replayed on its fresh box: no checks run meanwhile.
    const replaying = this.progress?.replay?.state === 'running';
    const feedback = this.progress?.feedback;
    const notYet = feedback && !feedback.passed && feedback.step === viewing ? feedback.message.trim() : '';
    return html`
      <div class="foot">
        ${notYet ? html`<p class="feedback" data-testid="check-feedback" role="status"><strong>Not yet:</strong> ${notYet}</p>` : nothing}
        ${error}
        <div class="actions">
          ${shown < step.hints.length
            ? html`<button class="small" data-testid="hint-button" @click=${() => this.revealHint(viewing)}>
                ${shown === 0 ? 'Hint' : 'Next hint'}
              </button>`
            : nothing}
          <button class="small" data-testid="show-me" ?disabled=${this.showMeBusy || !this.progress || replaying}
                  title="Type the solution into the terminal" @click=${() => void this.showMe(viewing)}>
            ${this.showMeBusy ? html`<span class="spinner" aria-hidden="true"></span>` : nothing}Show me
          </button>
          <button class="primary check" data-testid=${step.manual ? 'done-button' : 'check-button'} ?disabled=${checking || !this.progress || replaying}
                  title=${step.manual ? 'This step is not checked: say you have done it' : nothing}
                  aria-busy=${step.manual ? nothing : checking ? 'true' : 'false'} @click=${() => void this.check()}>
            ${step.manual ? 'Done, next step' : checking ? html`<span class="spinner" aria-hidden="true"></span>Checking…` : 'Check'}
          </button>
        </div>
      </div>
    `;
  }

  protected override updated(changed: PropertyValues<this>): void {
    if (changed.has('progress') || changed.has('lab')) this.typeForeground(0);
    if (!this.scrollToContent) return;
    this.scrollToContent = false;
    this.reveal(this.renderRoot.querySelector<HTMLElement>('article.step, section.finish'), 'start');
  }

  /**
   * Scrolls the guide's own scroller (only it: scrollIntoView would also scroll the page's
   * overflow-hidden boxes) to show `target` at its top, or just enough to show its end.
   */
  private reveal(target: HTMLElement | null, align: 'start' | 'end'): void {
    const scroller = this.renderRoot.querySelector<HTMLElement>('.scroll');
    if (!scroller || !target) return;
    const box = target.getBoundingClientRect();
    const view = scroller.getBoundingClientRect();
    const top = align === 'start'
      ? box.top - view.top + scroller.scrollTop - 8
      : Math.max(scroller.scrollTop, box.bottom - view.bottom + scroller.scrollTop + 8);
    const smooth = !matchMedia('(prefers-reduced-motion: reduce)').matches;
    scroller.scrollTo({ top: Math.max(0, top), behavior: smooth ? 'smooth' : 'auto' });
  }

  private statuses(lab: LabContent): StepStatus[] {
    const fromServer = this.progress?.steps;
    return lab.steps.map((_, i) => fromServer?.[i] ?? 'pending');
  }

  private firstTerminal(lab: LabContent): string {
    return lab.terminals[0]?.id ?? 'main';
  }

  private show(index: number | undefined): void {
    const current = this.progress?.current;
    this.selected = index === current ? undefined : index;
    this.actionError = '';
    this.scrollToContent = true;
  }

  private revealHint(index: number): void {
    const next = new Map(this.hintsShown);
    const hint = next.get(index) ?? 0;
    next.set(index, hint + 1);
    this.hintsShown = next;
    // Counted for the report; a failure to tell the server changes nothing for the learner.
    if (this.reportHints) void reportHint(this.session, this.token, index + 1, hint).catch((err) => console.warn('termlab: hint not reported:', errorText(err)));
    void this.updateComplete.then(() => {
      const hints = this.renderRoot.querySelectorAll<HTMLElement>('.hint');
      this.reveal(hints[hints.length - 1] ?? null, 'end');
    });
  }

  private async check(): Promise<void> {
    if (this.checkBusy) return;
    this.checkBusy = true;
    this.actionError = '';
    try {
      await checkStep(this.session, this.token);
    } catch (err) {
      this.actionError = `Could not check: ${errorText(err)}`;
    } finally {
      this.checkBusy = false;
    }
  }

  private async showMe(index: number): Promise<void> {
    if (this.showMeBusy) return;
    this.showMeBusy = true;
    this.actionError = '';
    try {
      const solution = await getStepSolution(this.session, this.token, index + 1);
      if (!this.typeInput({ terminal: solution.terminal, text: solution.solution, interrupt: false })) {
        this.actionError = 'The terminal is not connected: wait until it is, then try again.';
      }
    } catch (err) {
      this.actionError = `Could not get the solution: ${errorText(err)}`;
    } finally {
      this.showMeBusy = false;
    }
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    clearTimeout(this.foregroundTimer);
  }

  /** Types the current step's foreground once per session and step; retries while its terminal connects. */
  private typeForeground(tries: number): void {
    clearTimeout(this.foregroundTimer);
    const index = this.progress?.current ?? -1;
    const step = this.lab?.steps[index];
    // Not while a continued lab is being replayed: the steps it passes through are done for the learner, not by them.
    if (!step?.foreground || this.progress?.steps[index] !== 'current' || this.progress.replay?.state === 'running') return;
    const typed = this.foregroundsTyped();
    if (typed.includes(index)) return;
    if (this.typeInput({ terminal: step.terminal, text: step.foreground, interrupt: false })) {
      try { sessionStorage.setItem(FOREGROUND_KEY, JSON.stringify({ session: this.session, steps: [...typed, index] })); } catch { /* storage disabled */ }
    } else if (tries < FOREGROUND_TRIES) {
      this.foregroundTimer = setTimeout(() => this.typeForeground(tries + 1), FOREGROUND_RETRY_MS);
    }
  }

  private foregroundsTyped(): number[] {
    try {
      const saved = JSON.parse(sessionStorage.getItem(FOREGROUND_KEY) ?? 'null') as { session?: string; steps?: number[] } | null;
      return saved?.session === this.session && Array.isArray(saved.steps) ? saved.steps : [];
    } catch {
      return [];
    }
  }

  /** Asks the page to type into a terminal; false when nobody did. */
  private typeInput(detail: TypeInputDetail): boolean {
    const ev = new CustomEvent<TypeInputDetail>('tl-type-input', { detail, bubbles: true, composed: true, cancelable: true });
    return !this.dispatchEvent(ev);
  }

  private markdown(place: string, text: string, defaultTerminal: string): HTMLElement {
    let element = this.rendered.get(place);
    if (!element) {
      const lab = this.lab;
      const rendered = renderMarkdown(text, { session: this.session, hosts: lab?.hosts ?? [] });
      const terminals = lab?.terminals ?? [];
      decorateCodeBlocks(rendered, {
        defaultTerminal,
        terminalLabel: (id) => (terminals.length > 1 ? `in ${terminals.find((t) => t.id === id)?.title || id}` : undefined),
        run: (block: CodeBlock, terminal: string) => {
          this.actionError = '';
          return this.typeInput({ terminal, text: block.text, interrupt: block.interrupt });
        },
        copy: (value) => copyText(value, this.renderRoot),
      });
      element = rendered.element;
      this.rendered.set(place, element);
    }
    return element;
  }

  private emit<T>(type: string, detail: T): void {
    this.dispatchEvent(new CustomEvent<T>(type, { detail, bubbles: true, composed: true }));
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'tl-guide': TlGuide;
  }
  interface HTMLElementEventMap {
    'tl-type-input': TlTypeInputEvent;
    'tl-next-lab': CustomEvent<undefined>;
  }
}
