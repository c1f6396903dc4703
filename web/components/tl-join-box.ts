import { LitElement, css, html } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import { JOIN_CODE_ALPHABET, JOIN_CODE_LENGTH } from '../../protocol/workshops.js';
import { navigate, paths } from '../routes.js';
import { buttonStyles, pageStyles } from './shared-styles.js';

/** Normalises what a person typed as a join code: upper case, no spaces or dashes. */
export function normaliseCode(text: string): string {
  return text.toUpperCase().replace(/[\s-]/g, '');
}

/** "Join a workshop": a code box that goes to /w/CODE. */
@customElement('tl-join-box')
export class TlJoinBox extends LitElement {
  static override styles = [buttonStyles, pageStyles, css`
    :host { display: block; flex: none; }
    form { display: flex; gap: 0.5rem; align-items: flex-end; }
    input { width: 8.5rem; font-family: var(--tl-mono); letter-spacing: 0.15em; text-transform: uppercase; }
    label.field { margin: 0; }
  `];

  @state() private error = '';

  private submit(ev: SubmitEvent): void {
    ev.preventDefault();
    const input = this.renderRoot.querySelector('input')!;
    const code = normaliseCode(input.value);
    const valid = code.length === JOIN_CODE_LENGTH && [...code].every((c) => JOIN_CODE_ALPHABET.includes(c));
    if (!valid) {
      this.error = `A workshop code is ${JOIN_CODE_LENGTH} letters and digits, as your instructor shows it (for example K7QX2M).`;
      return;
    }
    this.error = '';
    navigate(paths.join(code));
  }

  protected override render() {
    return html`<form @submit=${this.submit}>
        <label class="field">Join a workshop
          <input name="code" data-testid="join-code" autocomplete="off" spellcheck="false" maxlength="12" placeholder="CODE">
        </label>
        <button class="primary" data-testid="join-code-go">Join</button>
      </form>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : ''}`;
  }
}

declare global {
  interface HTMLElementTagNameMap { 'tl-join-box': TlJoinBox }
}
