/**
 * Small pieces every part of the sidebar uses: sections, state badges, notes and error boxes.
 */
import * as React from 'react';

import { ApiError } from './request';
import { ServiceState } from './tokens';

/** A titled section that folds open and shut. */
export function Section(props: {
  title: string;
  count?: number | null;
  open?: boolean;
  className?: string;
  actions?: React.ReactNode;
  children: React.ReactNode;
}): JSX.Element {
  const [open, setOpen] = React.useState(props.open ?? true);
  return (
    <section
      className={`jp-MLDeploy-section ${props.className ?? ''}`}
      data-open={open}
    >
      <header className="jp-MLDeploy-sectionHeader">
        <button
          className="jp-MLDeploy-sectionToggle"
          onClick={() => setOpen(!open)}
          aria-expanded={open}
        >
          <span className="jp-MLDeploy-caret">{open ? '▾' : '▸'}</span>
          {props.title}
          {props.count !== undefined && props.count !== null && (
            <span className="jp-MLDeploy-count">{props.count}</span>
          )}
        </button>
        <span className="jp-MLDeploy-sectionActions">{props.actions}</span>
      </header>
      {open && <div className="jp-MLDeploy-sectionBody">{props.children}</div>}
    </section>
  );
}

/** A service state as a coloured badge (`Healthy`, `Failed`, ...). */
export function StateBadge(props: { state: ServiceState | string }): JSX.Element {
  return (
    <span
      className={`jp-MLDeploy-badge jp-MLDeploy-state-${props.state}`}
      data-state={props.state}
    >
      {props.state}
    </span>
  );
}

/** An HTTP status as a badge (green 2xx, red otherwise). */
export function StatusBadge(props: { status: number }): JSX.Element {
  const ok = props.status >= 200 && props.status < 300;
  return (
    <span
      className={`jp-MLDeploy-badge ${ok ? 'jp-MLDeploy-ok' : 'jp-MLDeploy-bad'}`}
    >
      {props.status}
    </span>
  );
}

/** A grey line: loading, or an empty list and what to do about it. */
export function Note(props: { children: React.ReactNode }): JSX.Element {
  return <div className="jp-MLDeploy-note">{props.children}</div>;
}

/** A red box with the server's message (it says what to do next). */
export function ErrorBox(props: {
  error: ApiError | string | null;
}): JSX.Element | null {
  if (!props.error) {
    return null;
  }
  const message =
    typeof props.error === 'string' ? props.error : props.error.message;
  return (
    <div className="jp-MLDeploy-error" role="alert">
      {message}
    </div>
  );
}

/** A small button in the sidebar's style. */
export function Button(props: {
  label: string;
  onClick: () => void;
  title?: string;
  disabled?: boolean;
  primary?: boolean;
  danger?: boolean;
}): JSX.Element {
  const kind = props.primary
    ? 'jp-mod-accept'
    : props.danger
      ? 'jp-mod-warn'
      : 'jp-mod-reject';
  return (
    <button
      className={`jp-MLDeploy-button jp-Button ${kind} jp-mod-styled`}
      onClick={props.onClick}
      title={props.title}
      disabled={props.disabled}
    >
      {props.label}
    </button>
  );
}

/** Milliseconds as people read them. */
export function millis(ms: number): string {
  return ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
}
