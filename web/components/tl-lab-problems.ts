import { LitElement, css, html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import type { LabFileProblem } from '../../protocol/api.js';

/**
 * Live reload (`npm run labs -- dev`): why the lab's files on disk do not load, each as file:line and
 * the loader's own words, and what a reload did or could not apply (`notes`). The guide shows one
 * beside each step whose file has problems and one at its top for the lab's other files. Renders
 * nothing when there is nothing to say, so a learner's page never shows it.
 */
@customElement('tl-lab-problems')
export class TlLabProblems extends LitElement {
  static override styles = css`
    :host { display: block; }
    :host([hidden]) { display: none; }
    .box {
      margin: 0.25rem 0 0.5rem; padding: 0.5rem 0.75rem; border-radius: var(--tl-radius-sm, 6px); font-size: 0.8125rem;
      border: 1px solid var(--tl-danger-border, #8e1519); background: var(--tl-danger-bg, #3a1d21);
    }
    .box.notes { border-color: var(--tl-warn, #d29922); background: var(--tl-surface-2, #21262d); }
    .label { margin: 0 0 0.25rem; font-weight: 600; }
    ul { margin: 0; padding-left: 1.125rem; }
    li { overflow-wrap: anywhere; }
    code { font-family: var(--tl-mono, monospace); font-size: 0.9em; }
  `;

  @property({ attribute: false }) problems: readonly LabFileProblem[] = [];
  @property({ attribute: false }) notes: readonly string[] = [];

  protected override render() {
    return html`${this.renderProblems()}${this.renderNotes()}`;
  }

  private renderProblems() {
    if (this.problems.length === 0) return nothing;
    return html`<div class="box" role="alert">
      <p class="label">Not loaded: the last good version is still running.</p>
      <ul>${this.problems.map((p) => html`<li data-testid="problem"><code>${p.file}:${p.line}</code>: ${p.message}</li>`)}</ul>
    </div>`;
  }

  private renderNotes() {
    if (this.notes.length === 0) return nothing;
    return html`<div class="box notes" role="status">
      <ul>${this.notes.map((n) => html`<li data-testid="reload-note">${n}</li>`)}</ul>
    </div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap { 'tl-lab-problems': TlLabProblems }
}
