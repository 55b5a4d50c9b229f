import { useEffect, useId, type ReactNode } from 'react';

/** Escape cancels a modal, unless its action is under way. */
export function useEscape(busy: boolean, onCancel: () => void): void {
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape' && !busy) onCancel();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [busy, onCancel]);
}

/**
 * A modal confirmation: a title, what will happen, and two buttons. Escape and the
 * backdrop cancel, unless the action is under way.
 */
export function Dialog({ title, children, confirmLabel, onConfirm, onCancel, busy = false, tone = 'primary', confirmDisabled = false }: {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  onConfirm: () => void;
  onCancel: () => void;
  busy?: boolean;
  tone?: 'primary' | 'danger' | 'warning';
  confirmDisabled?: boolean;
}) {
  const titleId = useId();
  useEscape(busy, onCancel);
  return (
    <div className="backdrop" onMouseDown={(event) => event.target === event.currentTarget && !busy && onCancel()}>
      <div className="dialog" role="dialog" aria-modal="true" aria-labelledby={titleId}>
        <header className="dialog-header">
          <h2 id={titleId}>{title}</h2>
          <button type="button" className="icon-button" aria-label="Close" onClick={onCancel} disabled={busy}>
            ×
          </button>
        </header>
        <div className="dialog-body">{children}</div>
        <footer className="dialog-footer">
          <button type="button" className="button secondary" onClick={onCancel} disabled={busy}>
            Cancel
          </button>
          <button type="button" className={`button ${tone}`} onClick={onConfirm} disabled={busy || confirmDisabled} autoFocus>
            {busy ? 'Working…' : confirmLabel}
          </button>
        </footer>
      </div>
    </div>
  );
}
