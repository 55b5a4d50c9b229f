import type { Version } from './api';

/** Names for the ids a history entry holds, as phrases: `list “Newsletter”`, `a deleted list`. */
export interface TimelineNames {
  list: (id: string) => string;
  account: (id: string) => string;
  deal: (id: string) => string;
  tag: (id: string) => string;
}

/** One moment of a contact's history: what one actor changed at one time, in sentences. */
export interface TimelineEvent {
  key: string;
  at: string;
  actorId: string | null;
  origin: string;
  lines: string[];
}

const fieldLabel: Record<string, string> = {
  email: 'email',
  firstName: 'first name',
  lastName: 'last name',
  phone: 'phone',
  fields: 'custom fields',
};

/** Columns that change along with a status (or on every write) and say nothing by themselves. */
const implied = new Set(['updatedAt', 'createdAt', 'id', 'contactId', 'deletedAt', 'deletedBy', 'archivedAt', 'archivedBy', 'mergedInto', 'version']);

const shown = (value: unknown): string => {
  if (value === null || value === undefined || value === '') return 'empty';
  return typeof value === 'string' ? `“${value}”` : JSON.stringify(value);
};

function valueOf(version: Version, column: string): unknown {
  const change = version.changes[column];
  if (!change) return undefined;
  return version.op === 'delete' ? change.from : (change.to ?? change.from);
}

function statusLine(from: unknown, to: unknown): string {
  if (to === 'deleted') return 'Deleted the contact (moved to the recycle bin)';
  if (to === 'archived') return 'Archived the contact';
  if (to === 'merged') return 'Merged the contact into another one';
  if (to === 'active' && from === 'deleted') return 'Restored the contact from the recycle bin';
  if (to === 'active' && from === 'archived') return 'Restored the contact from the archive';
  return `Changed status from ${shown(from)} to ${shown(to)}`;
}

function contactLines(version: Version): string[] {
  if (version.op === 'insert') return [`Created the contact ${shown(valueOf(version, 'email'))}`];
  if (version.op === 'delete') return ['Removed the contact’s row from the database'];
  const lines: string[] = [];
  const status = version.changes.status;
  if (status) lines.push(statusLine(status.from, status.to));
  for (const [column, change] of Object.entries(version.changes)) {
    if (column === 'status' || implied.has(column)) continue;
    lines.push(`Changed ${fieldLabel[column] ?? column} from ${shown(change.from)} to ${shown(change.to)}`);
  }
  return lines;
}

/** What an entry names by id: from its changes, or from its ref (an update's changes hold only the changed columns). */
function named(version: Version, column: string, name: (id: string) => string, unnamed: string): string {
  const id = valueOf(version, column) ?? version.ref[column];
  return id === undefined || id === null ? unnamed : name(String(id));
}

function associationLine(version: Version, names: TimelineNames): string {
  const { op, entity, changes } = version;
  const value = (column: string) => valueOf(version, column);
  switch (entity) {
    case 'list_membership': {
      const list = named(version, 'listId', names.list, 'a list');
      if (op === 'insert') return `Added to ${list} as ${String(value('status'))}`;
      if (op === 'delete') return `Left ${list} (was ${String(changes.status?.from ?? value('status'))})`;
      return changes.status ? `Status on ${list} changed from ${String(changes.status.from)} to ${String(changes.status.to)}` : `Membership of ${list} changed`;
    }
    case 'account_contact': {
      const account = named(version, 'accountId', names.account, 'an account');
      const title = value('jobTitle');
      if (op === 'insert') return `Linked to ${account}${title ? ` as ${String(title)}` : ''}`;
      if (op === 'delete') return `Unlinked from ${account}`;
      return changes.jobTitle ? `Job title at ${account} changed from ${shown(changes.jobTitle.from)} to ${shown(changes.jobTitle.to)}` : `Link to ${account} changed`;
    }
    case 'deal_contact': {
      const deal = named(version, 'dealId', names.deal, 'a deal');
      if (op === 'insert') return `Added to ${deal}`;
      if (op === 'delete') return `Removed from ${deal}`;
      return `Place on ${deal} changed`;
    }
    case 'contact_tag': {
      const tag = named(version, 'tagId', names.tag, 'a tag');
      return op === 'delete' ? `Untagged ${tag}` : `Tagged ${tag}`;
    }
    case 'enrollment':
      if (op === 'insert') return 'Enrolled in an automation';
      if (op === 'delete') return 'Left an automation';
      return changes.status ? `Automation enrollment ${String(changes.status.from)} → ${String(changes.status.to)}` : 'Automation enrollment moved on a step';
    case 'message':
      return `Sent the email ${shown(value('subject'))}`;
    default:
      return `${op} of ${entity}`;
  }
}

/**
 * A contact's versions (oldest first) as events, newest first: versions written by one
 * actor at one instant (a delete takes the contact off lists, accounts and deals at once)
 * read as one event.
 */
export function timelineOf(versions: Version[], names: TimelineNames): TimelineEvent[] {
  const events: TimelineEvent[] = [];
  for (const version of versions) {
    const lines = version.entity === 'contact' ? contactLines(version) : [associationLine(version, names)];
    if (lines.length === 0) continue;
    const last = events[events.length - 1];
    if (last && last.at === version.at && last.actorId === version.actorId && last.origin === version.origin) last.lines.push(...lines);
    else events.push({ key: String(version.version), at: version.at, actorId: version.actorId, origin: version.origin, lines });
  }
  return events.reverse();
}
