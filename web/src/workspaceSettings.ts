import type { Limits, Workspace, WorkspaceSettingsChange } from './api';

/** A setting of PATCH /workspace: which section, its field, how it reads and its unit. */
export interface SettingField {
  section: 'retention' | 'massDelete';
  field: string;
  label: string;
  unit: string;
  /** Whole numbers only (all but maxPercent). */
  whole: boolean;
}

export const settingFields: SettingField[] = [
  { section: 'retention', field: 'deletedDays', label: 'Deleted contacts are purged after', unit: 'days', whole: true },
  { section: 'retention', field: 'archiveFreezeDays', label: 'Archived contacts can be restored after', unit: 'days', whole: true },
  { section: 'retention', field: 'archiveDays', label: 'Archived contacts are purged after', unit: 'days', whole: true },
  { section: 'retention', field: 'pitrHours', label: 'Any moment can be rolled back to for', unit: 'hours', whole: true },
  { section: 'massDelete', field: 'maxContacts', label: 'Hold deletes past this many contacts', unit: 'contacts', whole: true },
  { section: 'massDelete', field: 'maxPercent', label: 'or past this share of the workspace’s contacts', unit: '%', whole: false },
  { section: 'massDelete', field: 'windowMinutes', label: 'by one user or token within', unit: 'minutes', whole: true },
];

/** The form's values as typed, by `section.field`. */
export type SettingsDraft = Record<string, string>;

export const keyOf = (f: SettingField): string => `${f.section}.${f.field}`;

/** The field's value the workspace has now. */
export function currentValue(workspace: Workspace, f: SettingField): number {
  return (workspace[f.section] as Record<string, number>)[f.field];
}

export function draftOf(workspace: Workspace): SettingsDraft {
  return Object.fromEntries(settingFields.map((f) => [keyOf(f), String(currentValue(workspace, f))]));
}

/**
 * The range a field may take: the server's (GET /limits), and for retention no more than
 * the operator allows this workspace (GET /workspace maxRetention). The archive freeze
 * must end before the archived contact is purged.
 */
export function rangeOf(f: SettingField, limits: Limits, workspace: Workspace, draft: SettingsDraft): { min: number; max: number } {
  const server = (f.section === 'retention' ? limits.retentionRanges : limits.massDeleteRanges) as Record<string, { min: number; max: number }>;
  const { min, max } = server[f.field];
  const operatorMax = f.section === 'retention' ? (workspace.maxRetention as Record<string, number>)[f.field] : undefined;
  if (f.field === 'archiveFreezeDays') {
    const archiveDays = Number(draft['retention.archiveDays']);
    return { min, max: Number.isFinite(archiveDays) ? Math.min(max, archiveDays - 1) : max };
  }
  return { min, max: operatorMax === undefined ? max : Math.min(max, operatorMax) };
}

/** What is wrong with each field as typed, by key (none: valid). */
export function problemsOf(draft: SettingsDraft, limits: Limits, workspace: Workspace): Record<string, string> {
  const problems: Record<string, string> = {};
  for (const f of settingFields) {
    const text = draft[keyOf(f)].trim();
    const value = Number(text);
    const { min, max } = rangeOf(f, limits, workspace, draft);
    if (text === '' || !Number.isFinite(value)) problems[keyOf(f)] = 'Enter a number.';
    else if (f.whole && !Number.isInteger(value)) problems[keyOf(f)] = 'Enter a whole number.';
    else if (value < min || value > max) problems[keyOf(f)] = `Between ${min.toLocaleString('en-US')} and ${max.toLocaleString('en-US')} ${f.unit}.`;
  }
  return problems;
}

/** The PATCH /workspace body for what the draft changes (only changed fields), or null when nothing changed. */
export function changesOf(draft: SettingsDraft, workspace: Workspace): WorkspaceSettingsChange | null {
  const body: Partial<Record<SettingField['section'], Record<string, number>>> = {};
  for (const f of settingFields) {
    const value = Number(draft[keyOf(f)]);
    if (value !== currentValue(workspace, f)) body[f.section] = { ...body[f.section], [f.field]: value };
  }
  return body.retention || body.massDelete ? (body as WorkspaceSettingsChange) : null;
}
