import { sql, type Selectable } from 'kysely';
import type { Automations } from '../db/schema.js';
import type { ChangeContext, Db, Tx } from '../db/database.js';
import { inTransaction } from '../db/database.js';
import { invalidRequest, notFound } from '../http/errors.js';
import { cursorTime, decodeCursor, toPage, type Page } from '../http/pagination.js';
import { recordAudit } from '../audit/service.js';
import { getList, type MembershipStatus } from '../lists/service.js';
import { requireLiveTags } from '../tags/service.js';
import { moveToBin } from '../deleted-objects/bin.js';

export type Trigger = { type: 'contact.created' } | { type: 'list.subscribed'; listId: string } | { type: 'tag.added'; tagId: string };
/**
 * What an automation does, step by step: sends an email, waits, or changes the contact (its
 * status on a list, a tag, a custom field). A change made by a step is a change set whose
 * cause is the automation, so what an automation did can be undone by its id and a time
 * range (POST /undos {cause:{automationId, from, to}}).
 */
export type Step =
  | { type: 'send_email'; subject: string }
  | { type: 'wait'; seconds: number }
  | { type: 'set_list_status'; listId: string; status: MembershipStatus }
  | { type: 'add_tag'; tagId: string }
  | { type: 'remove_tag'; tagId: string }
  | { type: 'set_field'; field: string; value: string | number | boolean | null };

/** The steps that change contacts (the others send or wait). */
export type DataStep = Extract<Step, { type: 'set_list_status' | 'add_tag' | 'remove_tag' | 'set_field' }>;
export const isDataStep = (step: Step): step is DataStep => ['set_list_status', 'add_tag', 'remove_tag', 'set_field'].includes(step.type);
export type EnrollmentStatus = 'active' | 'waiting' | 'completed' | 'paused';

export interface Automation {
  id: string;
  name: string;
  trigger: Trigger;
  steps: Step[];
  /** A paused automation enrols nobody and runs no step until it is resumed. */
  status: 'active' | 'paused';
  createdAt: string;
  deletedAt: string | null;
}

export interface Enrollment {
  contactId: string;
  stepIndex: number;
  status: EnrollmentStatus;
  runAt: string | null;
}

const automationColumns = ['id', 'name', 'trigger', 'steps', 'paused_at', 'created_at', 'deleted_at'] as const;
/** Its trigger and steps are jsonb as createAutomation writes them (the routes' schemas check them). */
type Definition = { trigger: Trigger; steps: Step[] };
type AutomationRow = Omit<Pick<Selectable<Automations>, (typeof automationColumns)[number]>, keyof Definition> & Definition;

const presentAutomation = (r: AutomationRow): Automation => ({
  id: r.id,
  name: r.name,
  trigger: r.trigger,
  steps: r.steps,
  status: r.paused_at === null ? 'active' : 'paused',
  createdAt: r.created_at.toISOString(),
  deletedAt: r.deleted_at?.toISOString() ?? null,
});

async function requireLiveList(tx: Tx, workspaceId: string, listId: string, path: (string | number)[]): Promise<void> {
  const list = await getList(tx, workspaceId, listId).catch(() => null);
  if (!list || list.deletedAt !== null) throw invalidRequest('Unknown list', { issues: [{ in: 'body', path: [...path, 'listId'], message: `no list ${listId}` }] });
}

/** A trigger and the steps may only name live lists and tags of the workspace (bad input otherwise). */
async function requireTargets(tx: Tx, workspaceId: string, trigger: Trigger, steps: Step[]): Promise<void> {
  if (trigger.type === 'list.subscribed') await requireLiveList(tx, workspaceId, trigger.listId, ['trigger']);
  if (trigger.type === 'tag.added') await requireLiveTags(tx, workspaceId, [trigger.tagId]);
  for (const [index, step] of steps.entries()) {
    if (step.type === 'set_list_status') await requireLiveList(tx, workspaceId, step.listId, ['steps', index]);
    if (step.type === 'add_tag' || step.type === 'remove_tag') await requireLiveTags(tx, workspaceId, [step.tagId]);
  }
}

export async function createAutomation(db: Db, change: ChangeContext, input: { name: string; trigger: Trigger; steps: Step[] }): Promise<Automation> {
  return inTransaction(db, change, async (tx) => {
    await requireTargets(tx, change.workspaceId, input.trigger, input.steps);
    // jsonb as JSON text: pg would write the steps array as a PostgreSQL array.
    const row = await tx
      .insertInto('automations')
      .values({ workspace_id: change.workspaceId, name: input.name, trigger: JSON.stringify(input.trigger), steps: JSON.stringify(input.steps), created_at: change.at })
      .returning(automationColumns)
      .$narrowType<Definition>()
      .executeTakeFirstOrThrow();
    const automation = presentAutomation(row);
    await recordAudit(tx, change, {
      action: 'automation.created',
      targetType: 'automation',
      targetId: automation.id,
      details: { name: input.name, trigger: input.trigger, steps: input.steps.length },
    });
    return automation;
  });
}

/** An automation, deleted ones too (with deletedAt). */
export async function getAutomation(db: Db | Tx, workspaceId: string, automationId: string): Promise<Automation> {
  const row = await db
    .selectFrom('automations')
    .select(automationColumns)
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', automationId)
    .$narrowType<Definition>()
    .executeTakeFirst();
  if (!row) throw notFound('Automation');
  return presentAutomation(row);
}

/** The workspace's automations that are not deleted, oldest first. */
export async function listAutomations(db: Db, workspaceId: string, page: { limit: number; cursor?: string }): Promise<Page<Automation>> {
  const after = decodeCursor(page.cursor, ['timestamp', 'text']);
  const { rows } = await sql<AutomationRow & { created_key: string }>`
    SELECT ${sql.join(automationColumns.map((column) => sql.ref(column)))}, ${cursorTime('created_at')} AS created_key FROM automations
    WHERE workspace_id = ${workspaceId} AND deleted_at IS NULL
      AND (${after?.[0] ?? null}::timestamptz IS NULL OR (created_at, id) > (${after?.[0] ?? null}::timestamptz, ${after?.[1] ?? null}::text))
    ORDER BY created_at, id
    LIMIT ${page.limit + 1}`.execute(db);
  return toPage(rows, page.limit, (r) => [r.created_key, r.id], presentAutomation);
}

/**
 * Pauses or resumes an automation that is not deleted (404 otherwise). Paused, it enrols
 * nobody, sends nothing and moves no enrollment (the runner and enrolOnEvents read
 * paused_at); its enrollments keep their step and status, so a resume continues each at
 * its saved step, and the message ledger (unique per automation, step and contact) keeps
 * a step already sent from sending again. Pausing a paused automation (or resuming an
 * active one) changes nothing and writes no audit entry.
 */
export async function setAutomationPaused(db: Db, change: ChangeContext, automationId: string, paused: boolean): Promise<Automation> {
  return inTransaction(db, change, async (tx) => {
    const current = await tx
      .selectFrom('automations')
      .select('paused_at')
      .where('workspace_id', '=', change.workspaceId)
      .where('id', '=', automationId)
      .where('deleted_at', 'is', null)
      .forUpdate()
      .executeTakeFirst();
    if (!current) throw notFound('Automation');
    if ((current.paused_at !== null) !== paused) {
      await tx
        .updateTable('automations')
        .set({ paused_at: paused ? change.at : null })
        .where('workspace_id', '=', change.workspaceId)
        .where('id', '=', automationId)
        .execute();
      await recordAudit(tx, change, { action: paused ? 'automation.paused' : 'automation.resumed', targetType: 'automation', targetId: automationId });
    }
    return getAutomation(tx, change.workspaceId, automationId);
  });
}

/**
 * Deletes an automation (to the bin of GET /deleted-objects): from then on it enrols
 * nobody and runs no step; its enrollments stay as they were, for a restore, which
 * brings it back paused.
 */
export async function deleteAutomation(db: Db, change: ChangeContext, automationId: string): Promise<Automation> {
  return inTransaction(db, change, async (tx) => {
    await moveToBin(tx, change, 'automation', automationId);
    return getAutomation(tx, change.workspaceId, automationId);
  });
}

/** An automation's enrollments, by contact id. */
export async function listEnrollments(
  db: Db,
  workspaceId: string,
  automationId: string,
  page: { limit: number; cursor?: string },
): Promise<Page<Enrollment>> {
  await getAutomation(db, workspaceId, automationId);
  const after = decodeCursor(page.cursor, ['text']);
  let query = db.selectFrom('enrollments').select(['contact_id', 'step_index', 'status', 'run_at']).where('workspace_id', '=', workspaceId).where('automation_id', '=', automationId);
  if (after !== undefined) query = query.where('contact_id', '>', String(after[0]));
  const rows = await query.orderBy('contact_id').limit(page.limit + 1).$narrowType<{ status: EnrollmentStatus }>().execute();
  return toPage(rows, page.limit, (r) => [r.contact_id], (r) => ({
    contactId: r.contact_id,
    stepIndex: r.step_index,
    status: r.status,
    runAt: r.run_at?.toISOString() ?? null,
  }));
}
