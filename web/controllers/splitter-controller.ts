// The draggable bar between two panes: the first pane's share of the width, in percent, changed by
// dragging, the arrow keys or a double click (back to the default), and kept in localStorage.
import { html } from 'lit';
import type { ReactiveController, ReactiveControllerHost } from 'lit';

export interface SplitterOptions {
  /** Percent: default, limits. */
  initial: number;
  min: number;
  max: number;
  /** localStorage key of the person's choice. */
  key: string;
  /** id of the pane the bar resizes (aria-controls). */
  controls: string;
  label: string;
}

export class SplitterController implements ReactiveController {
  /** The first pane's width in percent. */
  width: number;
  /** A drag is going on (the host sets a cursor over the whole area). */
  dragging = false;

  constructor(private readonly host: ReactiveControllerHost, private readonly options: SplitterOptions) {
    host.addController(this);
    this.width = this.load();
  }

  hostConnected(): void { /* nothing to acquire: listeners live for one drag */ }

  private load(): number {
    const { key, min, max, initial } = this.options;
    try {
      const value = Number(localStorage.getItem(key));
      if (value >= min && value <= max) return value;
    } catch { /* storage disabled */ }
    return initial;
  }

  private set(percent: number, save: boolean): void {
    const { min, max, key } = this.options;
    this.width = Math.round(Math.min(max, Math.max(min, percent)) * 10) / 10;
    this.host.requestUpdate();
    if (!save) return;
    try {
      localStorage.setItem(key, String(this.width));
    } catch { /* storage disabled: the width lasts until the reload */ }
  }

  private readonly onPointerDown = (ev: PointerEvent): void => {
    if (ev.button !== 0) return;
    const bar = ev.currentTarget as HTMLElement;
    const area = bar.parentElement!;
    bar.setPointerCapture(ev.pointerId);
    this.dragging = true;
    this.host.requestUpdate();
    const move = (e: PointerEvent) => {
      const box = area.getBoundingClientRect();
      this.set(((e.clientX - box.left) / box.width) * 100, false);
    };
    const up = () => {
      bar.removeEventListener('pointermove', move);
      bar.removeEventListener('pointerup', up);
      bar.removeEventListener('pointercancel', up);
      this.dragging = false;
      this.set(this.width, true);
    };
    bar.addEventListener('pointermove', move);
    bar.addEventListener('pointerup', up);
    bar.addEventListener('pointercancel', up);
  };

  private readonly onKey = (ev: KeyboardEvent): void => {
    const step = ev.key === 'ArrowLeft' ? -2 : ev.key === 'ArrowRight' ? 2 : 0;
    if (!step) return;
    ev.preventDefault();
    this.set(this.width + step, true);
  };

  /** The bar itself (style it with the `.splitter` class). */
  render() {
    const { min, max, controls, label, initial } = this.options;
    return html`<div class="splitter" role="separator" aria-orientation="vertical" aria-controls=${controls} aria-label=${label}
         aria-valuemin=${min} aria-valuemax=${max} aria-valuenow=${this.width} tabindex="0"
         @pointerdown=${this.onPointerDown} @keydown=${this.onKey}
         @dblclick=${() => this.set(initial, true)}></div>`;
  }
}
