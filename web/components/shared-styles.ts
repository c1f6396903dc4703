// Styles shared by the components; colours come from custom properties in styles.css.
import { css } from 'lit';

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
