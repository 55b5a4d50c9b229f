import { restoreArchivedContactNow } from '../recycle-bin/service.js';
import { sql, type Selectable } from 'kysely';
import type { ChangeContext, Db, Tx } from '../db/database.js';
import type { Forms } from '../db/schema.js';
import { inTransaction } from '../db/database.js';
import { AppError, invalidRequest, notFound } from '../http/errors.js';
import { cursorTime, decodeCursor, toPage, type Page } from '../http/pagination.js';
import { recordAudit } from '../audit/service.js';
import { getList, setMembership } from '../lists/service.js';
import { applyContactPatch, findHolderOfEmail, getContact, insertContact } from '../contacts/service.js';
import { getRetention, getWorkspace } from '../workspaces/service.js';
import { moveToBin } from '../deleted-objects/bin.js';

export interface Form {
  id: string;
  name: string;
  listId: string | null;
  createdAt: string;
  deletedAt: string | null;
}

const formColumns = ['workspace_id', 'id', 'name', 'list_id', 'created_at', 'deleted_at'] as const;
type FormRow = Pick<Selectable<Forms>, (typeof formColumns)[number]>;

const presentForm = (r: FormRow): Form => ({
  id: r.id,
  name: r.name,
  listId: r.list_id,
  createdAt: r.created_at.toISOString(),
  deletedAt: r.deleted_at?.toISOString() ?? null,
});

/** The form's list must be a live list of the workspace (bad input otherwise). */
async function requireLiveList(tx: Tx, workspaceId: string, listId: string): Promise<void> {
  const list = await getList(tx, workspaceId, listId).catch(() => null);
  if (!list || list.deletedAt !== null) {
    throw invalidRequest('Unknown list', { issues: [{ in: 'body', path: ['listId'], message: `no list ${listId}` }] });
  }
}

export async function createForm(db: Db, change: ChangeContext, input: { name: string; listId?: string }): Promise<Form> {
  return inTransaction(db, change, async (tx) => {
    if (input.listId !== undefined) await requireLiveList(tx, change.workspaceId, input.listId);
    const form = await tx
      .insertInto('forms')
      .values({ workspace_id: change.workspaceId, name: input.name, list_id: input.listId ?? null, created_at: change.at })
      .returning(formColumns)
      .executeTakeFirstOrThrow();
    await recordAudit(tx, change, { action: 'form.created', targetType: 'form', targetId: form.id, details: { name: input.name, listId: input.listId ?? null } });
    return presentForm(form);
  });
}

/** A form, deleted ones too (with deletedAt). */
export async function getForm(db: Db | Tx, workspaceId: string, formId: string): Promise<Form> {
  const form = await db.selectFrom('forms').select(formColumns).where('workspace_id', '=', workspaceId).where('id', '=', formId).executeTakeFirst();
  if (!form) throw notFound('Form');
  return presentForm(form);
}

/** The workspace's forms that are not deleted, oldest first. */
export async function listForms(db: Db, workspaceId: string, page: { limit: number; cursor?: string }): Promise<Page<Form>> {
  const after = decodeCursor(page.cursor, ['timestamp', 'text']);
  const { rows } = await sql<FormRow & { created_key: string }>`
    SELECT ${sql.join(formColumns.map((column) => sql.ref(column)))}, ${cursorTime('created_at')} AS created_key FROM forms
    WHERE workspace_id = ${workspaceId} AND deleted_at IS NULL
      AND (${after?.[0] ?? null}::timestamptz IS NULL OR (created_at, id) > (${after?.[0] ?? null}::timestamptz, ${after?.[1] ?? null}::text))
    ORDER BY created_at, id
    LIMIT ${page.limit + 1}`.execute(db);
  return toPage(rows, page.limit, (r) => [r.created_key, r.id], presentForm);
}

/**
 * Deletes a form (to the bin of GET /deleted-objects): its submissions answer 404 until
 * it is restored.
 */
export async function deleteForm(db: Db, change: ChangeContext, formId: string): Promise<Form> {
  return inTransaction(db, change, async (tx) => {
    await moveToBin(tx, change, 'form', formId);
    return getForm(tx, change.workspaceId, formId);
  });
}

/**
 * The workspace of a live form named only by its id: public submissions carry no token
 * (a deleted form takes none). The one lookup not led by a workspace id (index forms_by_id).
 */
export async function findPublicForm(db: Db, formId: string): Promise<{ workspaceId: string; listId: string | null } | null> {
  const form = await db.selectFrom('forms').select(['workspace_id', 'list_id']).where('id', '=', formId).where('deleted_at', 'is', null).executeTakeFirst();
  return form ? { workspaceId: form.workspace_id, listId: form.list_id } : null;
}

/** Lists purged for good: forms that named one name none from then on (a submission subscribes nobody, as it did while the list was in the bin). */
export async function forgetPurgedLists(tx: Tx, workspaceId: string, listIds: string[]): Promise<void> {
  await sql`UPDATE forms SET list_id = NULL WHERE workspace_id = ${workspaceId} AND list_id = ANY(${listIds}::text[])`.execute(tx);
}

export interface Submission {
  email: string;
  firstName?: string | null;
  lastName?: string | null;
}

/**
 * A public submission, as origin "form" and attributed to the form (its change's cause):
 * fills the empty names of the active contact with the email, or of the archived one,
 * which it restores to active, or creates one; then subscribes it to the form's list (a
 * real subscription: automations on that list start). A list deleted since the form was
 * made subscribes nobody. Refused, changing nothing, while the workspace is at its
 * active contact limit (refuseAtContactLimit).
 */
export async function submitForm(db: Db, form: { workspaceId: string; formId: string; listId: string | null }, at: Date, input: Submission): Promise<void> {
  const change: ChangeContext = { workspaceId: form.workspaceId, actorId: null, origin: 'form', at, cause: { kind: 'form', id: form.formId } };
  const submit = () =>
    inTransaction(db, change, async (tx) => {
      await refuseAtContactLimit(tx, form.workspaceId);
      const contactId = await upsertSubmitter(tx, change, input);
      const subscribeTo = form.listId !== null && (await getList(tx, form.workspaceId, form.listId)).deletedAt === null ? form.listId : null;
      if (subscribeTo !== null) await setMembership(tx, change, subscribeTo, contactId, 'subscribed');
      await recordAudit(tx, change, { action: 'form.submitted', targetType: 'contact', targetId: contactId, details: { formId: form.formId, listId: subscribeTo } });
    });
  try {
    await submit();
  } catch (error) {
    // Two first submissions of one email at once: the loser of the unique email index
    // tries again and finds the winner's contact to update.
    if ((error as { code?: string }).code !== '23505') throw error;
    await submit();
  }
}

/**
 * While the workspace has as many active contacts as its limit allows (or more), its
 * forms take no submission: 409 contact_limit_exceeded, `wouldBe` one more. Whoever the
 * email is: a submission that only updates an active contact is refused too, since
 * answering it otherwise would tell an anonymous caller which emails are on file.
 * Submissions to one workspace take turns here, so two at once cannot both take the last
 * place.
 */
async function refuseAtContactLimit(tx: Tx, workspaceId: string): Promise<void> {
  const { activeContactLimit } = await getRetention(tx, workspaceId);
  if (activeContactLimit === null) return;
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(${workspaceId} || ':form-submissions', 0))`.execute(tx);
  const { usage } = await getWorkspace(tx, workspaceId);
  if (usage.active + 1 > activeContactLimit) {
    throw new AppError(409, 'contact_limit_exceeded', 'This workspace is at its limit of active contacts: its forms take no submissions until it has room', {
      active: usage.active,
      limit: activeContactLimit,
      wouldBe: usage.active + 1,
    });
  }
}

/** The names a submission gives: a name left out, null or empty gives none. */
function givenNames(input: Submission): { firstName?: string; lastName?: string } {
  return {
    ...(input.firstName ? { firstName: input.firstName } : {}),
    ...(input.lastName ? { lastName: input.lastName } : {}),
  };
}

/**
 * The contact of the submission's email, made active. An anonymous submission only adds:
 * it fills a name the contact lacks, and never blanks or overwrites one (whoever knows an
 * email could otherwise rename its contact).
 */
async function upsertSubmitter(tx: Tx, change: ChangeContext, input: Submission): Promise<string> {
  const names = givenNames(input);
  const holder = await findHolderOfEmail(tx, change.workspaceId, input.email);
  if (!holder) return (await insertContact(tx, change, { email: input.email, ...names })).id;
  // Seed 004: an archived contact who submits a form is restored at once, freeze or not.
  if (holder.status === 'archived') await restoreArchivedContactNow(tx, change, holder.id);
  const current = await getContact(tx, change.workspaceId, holder.id);
  const missing = {
    ...(names.firstName && !current.firstName ? { firstName: names.firstName } : {}),
    ...(names.lastName && !current.lastName ? { lastName: names.lastName } : {}),
  };
  if (Object.keys(missing).length > 0) await applyContactPatch(tx, change, holder.id, missing);
  return holder.id;
}
