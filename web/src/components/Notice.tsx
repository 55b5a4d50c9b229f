import type { ReactNode } from 'react';
import { describeError } from '../api';

/** A message in the page: an API error in words, a warning, or news. */
export function Notice({ tone, children, onDismiss }: { tone: 'error' | 'warning' | 'info' | 'success'; children: ReactNode; onDismiss?: () => void }) {
  return (
    <div className={`notice ${tone}`} role={tone === 'error' || tone === 'warning' ? 'alert' : 'status'}>
      <div className="notice-text">{children}</div>
      {onDismiss && (
        <button type="button" className="icon-button" aria-label="Dismiss" onClick={onDismiss}>
          ×
        </button>
      )}
    </div>
  );
}

export function ErrorNotice({ error, onDismiss }: { error: unknown; onDismiss?: () => void }) {
  if (!error) return null;
  return (
    <Notice tone="error" onDismiss={onDismiss}>
      {describeError(error)}
    </Notice>
  );
}
