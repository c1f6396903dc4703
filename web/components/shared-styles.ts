// Styles shared by the components; colours come from custom properties in styles.css.
import { css } from 'lit';

/** `.spinner`: a small turning ring in the current colour. */
export const spinnerStyles = css`
  .spinner {
    width: 0.9em;
    height: 0.9em;
    border-radius: 50%;
    border: 2px solid currentColor;
    border-right-color: transparent;
    animation: spin 0.8s linear infinite;
    flex: none;
  }
  @keyframes spin {
    to { transform: rotate(360deg); }
  }
  @media (prefers-reduced-motion: reduce) {
    .spinner { animation-duration: 2.4s; }
  }
`;

export const buttonStyles = css`
  button {
    font: inherit;
    font-size: 0.875rem;
    font-weight: 600;
    line-height: 1;
    display: inline-flex;
    align-items: center;
    justify-content: center;
    gap: 0.5em;
    min-height: 2.25rem;
    padding: 0 1rem;
    border-radius: var(--tl-radius-sm, 6px);
    border: 1px solid var(--tl-border-strong, #3d444d);
    background: var(--tl-surface-2, #21262d);
    color: var(--tl-text, #e6edf3);
    cursor: pointer;
    white-space: nowrap;
    transition: background-color 120ms, border-color 120ms, opacity 120ms;
  }
  button:hover:not(:disabled) {
    background: var(--tl-surface-3, #30363d);
    border-color: var(--tl-muted, #8b949e);
  }
  button:focus-visible {
    outline: 2px solid var(--tl-accent, #58a6ff);
    outline-offset: 2px;
  }
  button:disabled {
    cursor: default;
    opacity: 0.6;
  }
  button.primary {
    background: var(--tl-primary, #238636);
    border-color: var(--tl-primary-border, #2ea043);
    color: #fff;
  }
  button.primary:hover:not(:disabled) {
    background: var(--tl-primary-hover, #2ea043);
    border-color: var(--tl-primary-border, #2ea043);
  }
  button.danger {
    color: var(--tl-danger, #f85149);
  }
  button.danger:hover:not(:disabled) {
    background: var(--tl-danger, #f85149);
    border-color: var(--tl-danger, #f85149);
    color: #fff;
  }
  button.small {
    min-height: 1.75rem;
    padding: 0 0.625rem;
    font-size: 0.8125rem;
  }
  ${spinnerStyles}
`;

/** Rendered lab Markdown (web/lab/markdown.ts): a `div.md`, code blocks framed as `div.code`. */
/** A running lab's banner above the guide and terminals (a continued box being prepared, the lifetime's warning): text, then its buttons. */
export const bannerStyles = css`
  .banner {
    display: flex; align-items: center; flex-wrap: wrap; gap: 0.5rem 0.75rem; margin: 0.75rem 0.75rem 0;
    padding: 0.625rem 0.875rem; border-radius: var(--tl-radius-sm); border: 1px solid var(--tl-border-strong); background: var(--tl-surface-2);
  }
  .banner .text { flex: 1 1 20rem; }
  .banner .error { flex-basis: 100%; color: var(--tl-danger); }
`;

export const markdownStyles = css`
  .md {
    line-height: 1.55;
    overflow-wrap: anywhere;
  }
  .md > :first-child { margin-top: 0; }
  .md > :last-child { margin-bottom: 0; }
  .md p, .md ul, .md ol, .md blockquote, .md table { margin: 0 0 0.75rem; }
  .md ul, .md ol { padding-left: 1.375rem; }
  .md li + li { margin-top: 0.25rem; }
  .md h1, .md h2, .md h3, .md h4 {
    margin: 1.125rem 0 0.5rem;
    line-height: 1.25;
    letter-spacing: -0.01em;
  }
  .md h1 { font-size: 1.125rem; }
  .md h2 { font-size: 1.0625rem; }
  .md h3, .md h4 { font-size: 1rem; }
  .md a { color: var(--tl-accent, #58a6ff); }
  .md a[target='_blank']::after {
    content: '↗';
    font-size: 0.75em;
    margin-left: 0.125em;
    vertical-align: super;
    line-height: 0;
  }
  .md code {
    font-family: var(--tl-mono, monospace);
    font-size: 0.85em;
    padding: 0.1em 0.35em;
    border-radius: 4px;
    background: var(--tl-surface-2, #21262d);
    border: 1px solid var(--tl-border, #30363d);
  }
  .md blockquote {
    padding: 0.125rem 0 0.125rem 0.875rem;
    border-left: 3px solid var(--tl-border-strong, #3d444d);
    color: var(--tl-muted, #8b949e);
  }
  .md table { border-collapse: collapse; display: block; overflow-x: auto; }
  .md th, .md td { border: 1px solid var(--tl-border, #30363d); padding: 0.25rem 0.5rem; text-align: left; }
  .md img { max-width: 100%; }
  .md hr { border: 0; border-top: 1px solid var(--tl-border, #30363d); margin: 1rem 0; }
  .md .code {
    margin: 0 0 0.875rem;
    border: 1px solid var(--tl-border, #30363d);
    border-radius: var(--tl-radius-sm, 6px);
    background: var(--tl-term-bg, #0d1117);
    overflow: hidden;
  }
  .md .code-bar {
    display: flex;
    align-items: center;
    justify-content: flex-end;
    gap: 0.375rem;
    padding: 0.25rem 0.375rem 0.25rem 0.75rem;
    background: var(--tl-surface, #161b22);
    border-bottom: 1px solid var(--tl-border, #30363d);
  }
  .md .code-where {
    margin-right: auto;
    font-size: 0.75rem;
    color: var(--tl-muted, #8b949e);
  }
  .md .code-action {
    min-height: 1.625rem;
    padding: 0 0.625rem;
    font-size: 0.75rem;
  }
  .md .code-action.run {
    color: #fff;
    background: var(--tl-primary, #238636);
    border-color: var(--tl-primary-border, #2ea043);
    min-width: 4.75rem;
  }
  .md .code-action.run:hover:not(:disabled) {
    background: var(--tl-primary-hover, #2ea043);
    border-color: var(--tl-primary-border, #2ea043);
  }
  .md pre {
    margin: 0;
    padding: 0.625rem 0.875rem;
    overflow-x: auto;
    font-family: var(--tl-mono, monospace);
    font-size: 0.8125rem;
    line-height: 1.5;
  }
  .md pre code {
    padding: 0;
    border: 0;
    background: none;
    font-size: inherit;
  }
`;

/** A scrolling page of content (lists, forms, tables): `main.list > .list-inner`, `.intro`, fields, tables. */
export const pageStyles = css`
  :host { display: flex; flex-direction: column; flex: 1 1 auto; min-height: 0; }
  main.list { flex: 1 1 auto; min-height: 0; overflow: auto; padding: 2rem 1.25rem 3rem; }
  .list-inner { width: 100%; max-width: 1120px; margin: 0 auto; }
  .intro h1 { margin: 0 0 0.375rem; font-size: 1.5rem; letter-spacing: -0.02em; }
  .intro p { margin: 0 0 1.75rem; color: var(--tl-muted); }
  a { color: var(--tl-accent); }
  label.field { display: flex; flex-direction: column; gap: 0.375rem; margin: 0 0 1rem; font-size: 0.875rem; font-weight: 600; }
  label.field .help { font-weight: 400; color: var(--tl-muted); }
  input, select, textarea {
    font: inherit; font-size: 0.9375rem; color: var(--tl-text); background: var(--tl-bg);
    border: 1px solid var(--tl-border-strong); border-radius: var(--tl-radius-sm); padding: 0.5rem 0.625rem;
  }
  input:focus-visible, select:focus-visible, textarea:focus-visible { outline: 2px solid var(--tl-accent); outline-offset: 1px; }
  .error { color: var(--tl-danger); }
  .muted { color: var(--tl-muted); }
  .card {
    background: var(--tl-surface); border: 1px solid var(--tl-border); border-radius: var(--tl-radius); padding: 1rem 1.25rem; margin: 0 0 1rem;
  }
  table { border-collapse: collapse; font-size: 0.875rem; }
  th, td { border-bottom: 1px solid var(--tl-border); padding: 0.375rem 0.625rem; text-align: left; white-space: nowrap; }
  th { color: var(--tl-muted); font-weight: 600; }
  @media (max-width: 600px) { main.list { padding: 1.25rem 0.75rem 2rem; } }
`;
