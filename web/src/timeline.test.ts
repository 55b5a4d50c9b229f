import { describe, expect, it } from 'vitest';
import type { Version } from './api';
import { timelineOf, type TimelineNames } from './timeline';

const names: TimelineNames = {
  list: (id) => `list “List ${id}”`,
  account: (id) => `account “Account ${id}”`,
  deal: (id) => `deal “Deal ${id}”`,
  tag: (id) => `“Tag ${id}”`,
};

let version = 0;
const aVersion = (fields: Partial<Version> & Pick<Version, 'op' | 'entity' | 'changes'>): Version => ({
  version: ++version,
  at: '2026-11-25T10:00:00.000Z',
  actorId: 'u1',
  origin: 'user',
  ref: {},
  ...fields,
});

describe('timelineOf', () => {
  it('reads one actor’s changes at one instant as one event, newest event first', () => {
    const created = aVersion({ op: 'insert', entity: 'contact', at: '2026-11-20T09:00:00.000Z', changes: { email: { from: null, to: 'ada@example.com' }, status: { from: null, to: 'active' } } });
    const deleted = aVersion({ op: 'update', entity: 'contact', changes: { status: { from: 'active', to: 'deleted' }, deletedAt: { from: null, to: 'x' }, updatedAt: { from: 'a', to: 'b' } } });
    const leftList = aVersion({ op: 'delete', entity: 'list_membership', changes: { listId: { from: 'L', to: null }, status: { from: 'bounced', to: null } } });
    const events = timelineOf([created, deleted, leftList], names);
    expect(events.map((e) => e.lines)).toEqual([
      ['Deleted the contact (moved to the recycle bin)', 'Left list “List L” (was bounced)'],
      ['Created the contact “ada@example.com”'],
    ]);
  });

  it('keeps apart changes by different actors or origins at the same instant', () => {
    const byUser = aVersion({ op: 'insert', entity: 'contact_tag', changes: { tagId: { from: null, to: 'T' } } });
    const byRestore = aVersion({ op: 'insert', entity: 'contact_tag', origin: 'restore', changes: { tagId: { from: null, to: 'U' } } });
    expect(timelineOf([byUser, byRestore], names).map((e) => [e.origin, e.lines])).toEqual([
      ['restore', ['Tagged “Tag U”']],
      ['user', ['Tagged “Tag T”']],
    ]);
  });

  it('says what changed on a contact and its associations, in words, naming the list of an update from its ref', () => {
    const lines = timelineOf(
      [
        aVersion({ op: 'update', entity: 'contact', at: '1', changes: { firstName: { from: 'Ada', to: 'Augusta' }, updatedAt: { from: 'a', to: 'b' } } }),
        aVersion({ op: 'update', entity: 'contact', at: '2', changes: { status: { from: 'archived', to: 'active' } } }),
        aVersion({ op: 'update', entity: 'list_membership', at: '3', ref: { listId: 'L' }, changes: { status: { from: 'subscribed', to: 'unsubscribed' } } }),
        aVersion({ op: 'insert', entity: 'account_contact', at: '4', changes: { accountId: { from: null, to: 'A' }, jobTitle: { from: null, to: 'CTO' } } }),
        aVersion({ op: 'insert', entity: 'deal_contact', at: '5', changes: { dealId: { from: null, to: 'D' } } }),
        aVersion({ op: 'insert', entity: 'message', at: '6', changes: { subject: { from: null, to: 'Welcome' } } }),
        aVersion({ op: 'update', entity: 'contact', at: '7', changes: { updatedAt: { from: 'a', to: 'b' } } }),
      ],
      names,
    ).map((e) => e.lines);
    expect(lines).toEqual([
      ['Sent the email “Welcome”'],
      ['Added to deal “Deal D”'],
      ['Linked to account “Account A” as CTO'],
      ['Status on list “List L” changed from subscribed to unsubscribed'],
      ['Restored the contact from the archive'],
      ['Changed first name from “Ada” to “Augusta”'],
    ]);
  });
});
