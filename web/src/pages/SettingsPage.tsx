import { useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { answer, type Workspace, type WorkspaceSettingsChange } from '../api';
import { ErrorNotice } from '../components/Notice';
import { useWorkspace } from '../lookups';
import { useSession } from '../session';
import { changesOf, currentValue, draftOf, keyOf, problemsOf, rangeOf, settingFields, type SettingField, type SettingsDraft } from '../workspaceSettings';

/**
 * The workspace's settings (admins, users.manage): how long deleted and archived contacts
 * are kept and how far back a rollback reaches (retention), and when the mass-delete guard
 * holds someone's deletes. Ranges come from the server (GET /limits, and the operator's
 * limits in GET /workspace); whatever it still refuses is shown as it says.
 */
export function SettingsPage() {
  const workspace = useWorkspace();
  if (!workspace) return <section className="page"><h1>Settings</h1></section>;
  return <SettingsForm workspace={workspace} />;
}

function SettingsForm({ workspace }: { workspace: Workspace }) {
  const { api, limits } = useSession();
  const queryClient = useQueryClient();
  const [draft, setDraft] = useState<SettingsDraft>(() => draftOf(workspace));
  const [saved, setSaved] = useState(false);
  const problems = problemsOf(draft, limits, workspace);
  const valid = Object.keys(problems).length === 0;
  const changes = valid ? changesOf(draft, workspace) : null;
  const save = useMutation({
    mutationFn: (body: WorkspaceSettingsChange) => answer(api.PATCH('/api/v1/workspace', { body })),
    onSuccess: (next) => {
      queryClient.setQueryData(['workspace'], next);
      setDraft(draftOf(next));
      setSaved(true);
    },
  });
  const edit = (key: string, value: string) => {
    setSaved(false);
    save.reset();
    setDraft({ ...draft, [key]: value });
  };
  // The same widths in both tables, so their fields line up.
  const columns = (
    <colgroup>
      <col style={{ width: '45%' }} />
      <col style={{ width: '25%' }} />
      <col />
    </colgroup>
  );
  const section = (name: SettingField['section']) => settingFields.filter((f) => f.section === name);
  const input = (f: SettingField) => {
    const key = keyOf(f);
    const { min, max } = rangeOf(f, limits, workspace, draft);
    return (
      <tr key={key}>
        <td>
          <label htmlFor={key}>{f.label}</label>
        </td>
        <td>
          <input
            id={key}
            type="number"
            className="number"
            min={min}
            max={max}
            step={f.whole ? 1 : 0.01}
            value={draft[key]}
            aria-invalid={problems[key] ? true : undefined}
            aria-describedby={problems[key] ? `${key}-problem` : undefined}
            onChange={(event) => edit(key, event.target.value)}
          />{' '}
          {f.unit}
        </td>
        <td className="muted small">
          {problems[key] ? (
            <span id={`${key}-problem`} className="error-text" role="alert">
              {problems[key]}
            </span>
          ) : (
            `Now ${currentValue(workspace, f).toLocaleString('en-US')}; ${min.toLocaleString('en-US')}–${max.toLocaleString('en-US')}`
          )}
        </td>
      </tr>
    );
  };

  return (
    <section className="page">
      <header className="page-header">
        <div>
          <h1>Settings</h1>
          <p className="muted">
            How long Retrace keeps what was deleted or archived, how far back a rollback can reach, and when one user’s or integration’s deletes are held for an admin.
            Shorter retention takes effect at once: contacts past the new time are purged at the next maintenance run.
          </p>
        </div>
      </header>
      <form
        className="card pad settings"
        aria-label="Workspace settings"
        onSubmit={(event) => {
          event.preventDefault();
          if (changes) save.mutate(changes);
        }}
      >
        <h2>Retention</h2>
        <table className="table compact">
          {columns}
          <tbody>{section('retention').map(input)}</tbody>
        </table>
        <h2>Mass deletes</h2>
        <table className="table compact">
          {columns}
          <tbody>{section('massDelete').map(input)}</tbody>
        </table>
        <p className="muted small">The share counts only where it comes to at least {limits.massDeleteMinPercentContacts} contacts. One request over the number needs a second yes.</p>
        <div className="page-actions">
          <button type="submit" className="button primary" disabled={!changes || save.isPending}>
            {save.isPending ? 'Saving…' : 'Save settings'}
          </button>
          <button type="button" className="button ghost" disabled={save.isPending} onClick={() => setDraft(draftOf(workspace))}>
            Discard changes
          </button>
          {saved && !changes && (
            <span className="muted small" role="status">
              Settings saved.
            </span>
          )}
        </div>
        <ErrorNotice error={save.error} onDismiss={save.reset} />
      </form>
    </section>
  );
}
