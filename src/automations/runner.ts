import { sql } from 'kysely';
import { joinContact } from '../contacts/guards.js';
import type { AppContext } from '../context.js';
import type { ChangeContext, Tx } from '../db/database.js';
import { inTransaction } from '../db/database.js';
import { claimMessages, deliverMessages, type MessageClaim } from '../messages/service.js';
import type { OutgoingMessage, Sender } from '../messages/sender.js';
import { isDataStep, type DataStep, type EnrollmentStatus, type Step } from './service.js';
import { recordAudit } from '../audit/service.js';
import { setMembershipsOnList } from '../lists/service.js';
import { addTagToContacts, removeTagFromContacts } from '../tags/service.js';
import { setCustomField } from '../contacts/service.js';

/**
 * A due enrollment and the step it stands at (null past the last step). An active
 * enrollment is always due; a waiting one once its run_at has come.
 */
export interface DueEnrollment {
  automationId: string;
  contactId: string;
  stepIndex: number;
  status: 'active' | 'waiting';
  step: Step | null;
  stepCount: number;
}

/** Where a due enrollment goes next, and the message its step claims, if any. */
export interface Transition {
  automationId: string;
  contactId: string;
  stepIndex: number;
  status: EnrollmentStatus;
  runAt: string;
  claim: MessageClaim | null;
  /** The change to the contact its step makes, if any. */
  dataStep: DataStep | null;
}

/**
 * One move of one enrollment. A wait step is entered (status waiting until now + seconds)
 * and, once due, left for the next step; a send_email step claims its message and moves
 * on; a step that changes the contact moves on with that change to make. Past the last
 * step the enrollment is completed.
 */
export function nextTransition(due: DueEnrollment, now: Date): Transition {
  const key = { automationId: due.automationId, contactId: due.contactId };
  const advance = (): Transition => {
    const stepIndex = due.stepIndex + 1;
    return { ...key, stepIndex, status: stepIndex >= due.stepCount ? 'completed' : 'active', runAt: now.toISOString(), claim: null, dataStep: null };
  };
  if (due.step === null) return { ...key, stepIndex: due.stepIndex, status: 'completed', runAt: now.toISOString(), claim: null, dataStep: null };
  if (due.status === 'waiting') return advance();
  if (due.step.type === 'wait') {
    return { ...key, stepIndex: due.stepIndex, status: 'waiting', runAt: new Date(now.getTime() + due.step.seconds * 1000).toISOString(), claim: null, dataStep: null };
  }
  if (due.step.type === 'send_email') return { ...advance(), claim: { ...key, stepIndex: due.stepIndex, subject: due.step.subject } };
  if (isDataStep(due.step)) return { ...advance(), dataStep: due.step };
  // A step this runner does not know (written around the API) is passed over, so one bad
  // automation cannot stall every other enrollment of the workspace.
  return advance();
}

const batchSize = 500;

/**
 * Runs every due automation step of a workspace (or of every workspace), round after
 * round, until none is due. Returns the number of steps taken.
 *
 * Why a send cannot happen twice: a round claims its messages in the ledger and advances
 * the steps in ONE transaction, and only after it commits hands the claimed messages to
 * the sender. The ledger's unique (automation, step, contact) key with ON CONFLICT DO
 * NOTHING returns a claim only the first time, ever. A crash before the commit loses
 * both the claim and the advance, so the step runs again and claims afresh (nothing was
 * sent yet); a crash after it leaves the claim, so nothing can claim that message again,
 * and at worst it was never handed over (its ledger row stays `pending`). We chose
 * claim-then-send over send-then-record because the contract is "at most once": a lost
 * email is visible in the ledger, a duplicate cannot be taken back (seed 000).
 */
export async function runDueSteps(ctx: AppContext, workspaceId: string | null, sender: Sender): Promise<number> {
  let steps = 0;
  for (const id of workspaceId !== null ? [workspaceId] : await workspacesWithDueSteps(ctx)) {
    for (;;) {
      const automationId = await nextDueAutomation(ctx, id);
      if (automationId === null) break;
      // One automation a round: the round's changes to contacts are a change set named
      // after it, so that what it did can be found and undone.
      const change: ChangeContext = { workspaceId: id, actorId: null, origin: 'system', at: ctx.clock.now(), cause: { kind: 'automation', id: automationId } };
      const { taken, claimed } = await inTransaction(ctx.db, change, (tx) => takeDueSteps(tx, change, automationId));
      await deliverMessages(ctx.db, ctx.log, change, sender, claimed);
      steps += taken;
      if (taken === 0) break;
    }
  }
  return steps;
}

async function workspacesWithDueSteps(ctx: AppContext): Promise<string[]> {
  // Maintenance of every workspace: the one unscoped query finds where there is work.
  const now = ctx.clock.now();
  const rows = await ctx.db
    .selectFrom('enrollments')
    .select('workspace_id')
    .distinct()
    .where((eb) => eb.or([eb('status', '=', 'active'), eb.and([eb('status', '=', 'waiting'), eb('run_at', '<=', now)])]))
    .execute();
  return rows.map((r) => r.workspace_id);
}

const due = (at: Date) => sql`(e.status = 'active' OR (e.status = 'waiting' AND e.run_at <= ${at}))`;

/** The running automation of the workspace's most overdue enrollment, if any is due (as takeDueSteps takes them). */
async function nextDueAutomation(ctx: AppContext, workspaceId: string): Promise<string | null> {
  const { rows } = await sql<{ automation_id: string }>`
    SELECT e.automation_id FROM enrollments e
    JOIN automations a ON a.workspace_id = e.workspace_id AND a.id = e.automation_id AND a.paused_at IS NULL AND a.deleted_at IS NULL
    ${joinContact('c', sql`e.workspace_id`, sql`e.contact_id`, { active: true })}
    WHERE e.workspace_id = ${workspaceId} AND ${due(ctx.clock.now())}
    ORDER BY e.run_at NULLS FIRST, e.automation_id LIMIT 1`.execute(ctx.db);
  return rows[0]?.automation_id ?? null;
}

/**
 * Makes the round's changes to contacts, one statement per step (all of the round's
 * enrollments at that step), and one audit entry per step saying how many it changed.
 */
async function applyDataSteps(tx: Tx, change: ChangeContext, automationId: string, transitions: Transition[]): Promise<void> {
  const byStep = new Map<number, { step: DataStep; contactIds: string[] }>();
  for (const t of transitions) {
    if (!t.dataStep) continue;
    const index = t.stepIndex - 1;
    const entry = byStep.get(index) ?? { step: t.dataStep, contactIds: [] };
    entry.contactIds.push(t.contactId);
    byStep.set(index, entry);
  }
  for (const [stepIndex, { step, contactIds }] of byStep) {
    const changed =
      step.type === 'set_list_status' ? await setMembershipsOnList(tx, change, step.listId, contactIds, step.status)
      : step.type === 'add_tag' ? await addTagToContacts(tx, change, step.tagId, contactIds)
      : step.type === 'remove_tag' ? await removeTagFromContacts(tx, change, step.tagId, contactIds)
      : await setCustomField(tx, change, contactIds, step.field, step.value);
    if (changed.length > 0) {
      await recordAudit(tx, change, { action: 'automation.step_applied', targetType: 'automation', targetId: automationId, details: { stepIndex, type: step.type, contacts: changed.length } });
    }
  }
}

/** One round: a batch of one automation's due enrollments moves one step, in one transaction. */
async function takeDueSteps(tx: Tx, change: ChangeContext, automationId: string): Promise<{ taken: number; claimed: OutgoingMessage[] }> {
  // SKIP LOCKED: a concurrent runner (the background loop beside POST /maintenance/run)
  // takes other enrollments; the ledger key stops a double send even if both took one.
  const { rows } = await sql<{ automation_id: string; contact_id: string; step_index: number; status: 'active' | 'waiting'; step: Step | null; step_count: number }>`
    SELECT e.automation_id, e.contact_id, e.step_index, e.status, a.steps -> e.step_index AS step, jsonb_array_length(a.steps) AS step_count
    FROM enrollments e
    -- a paused or deleted automation advances no enrollment and sends nothing
    JOIN automations a ON a.workspace_id = e.workspace_id AND a.id = e.automation_id AND a.paused_at IS NULL AND a.deleted_at IS NULL
    ${joinContact('c', sql`e.workspace_id`, sql`e.contact_id`, { active: true })}
    WHERE e.workspace_id = ${change.workspaceId} AND e.automation_id = ${automationId} AND ${due(change.at)}
    ORDER BY e.run_at NULLS FIRST, e.contact_id
    LIMIT ${batchSize}
    FOR UPDATE OF e SKIP LOCKED`.execute(tx);
  if (rows.length === 0) return { taken: 0, claimed: [] };
  const transitions = rows.map((r) =>
    nextTransition(
      { automationId: r.automation_id, contactId: r.contact_id, stepIndex: r.step_index, status: r.status, step: r.step, stepCount: r.step_count },
      change.at,
    ),
  );
  const claimed = await claimMessages(tx, change, transitions.flatMap((t) => (t.claim ? [t.claim] : [])));
  await applyDataSteps(tx, change, automationId, transitions);
  // Typed arrays, not text cast in the statement: Citus refuses a STABLE cast (text to
  // timestamptz) over a joined row's column in an UPDATE.
  await sql`
    UPDATE enrollments e SET step_index = t.step_index, status = t.status, run_at = t.run_at, updated_at = ${change.at}
    FROM unnest(${transitions.map((t) => t.contactId)}::text[], ${transitions.map((t) => t.stepIndex)}::int[],
                ${transitions.map((t) => t.status)}::text[], ${transitions.map((t) => t.runAt)}::timestamptz[]) AS t(contact_id, step_index, status, run_at)
    WHERE e.workspace_id = ${change.workspaceId} AND e.automation_id = ${automationId} AND e.contact_id = t.contact_id`.execute(tx);
  return { taken: rows.length, claimed };
}
