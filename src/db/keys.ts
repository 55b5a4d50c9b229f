import { sql, type QueryResult, type RawBuilder } from 'kysely';
import type { Tx } from './database.js';

/**
 * Batches of keys against large tables, written so that no plan of them grows with the
 * workspace, with or without planner statistics.
 *
 * Without statistics (PGlite never autovacuums, a server may run with autovacuum off, and
 * a workspace that was just filled has none worth trusting) PostgreSQL guesses that
 * `workspace_id = $1` keeps 0.5% of a table and that `id = ANY($2)` with thousands of
 * keys keeps nearly all of it. So for a batch it would scan the whole workspace, or loop
 * over what it takes for a tiny workspace once per key: a restore of 100,000 contacts
 * took minutes to request and each of its batches read the whole workspace (issue 15).
 *
 * The rule: the batch drives the statement, and the large table is joined by its key
 * only. The workspace travels with the keys (`k.workspace_id`), behind `OFFSET 0`, so the
 * planner sees no constant condition on the large table to misjudge: it either looks each
 * key up by index or, when the batch is a good part of the table, reads the table once;
 * both are linear in what they touch, and the table's size it knows from its pages.
 *
 * ```ts
 * await sql`UPDATE contacts c SET status = 'active'
 *           FROM ${batchOf(workspaceId, ids)} WHERE c.workspace_id = k.workspace_id AND c.id = k.key`.execute(tx);
 * ```
 */
export function batchOf(workspaceId: string, keys: readonly string[], alias = 'k'): RawBuilder<unknown> {
  return sql`(SELECT ${workspaceId}::text AS workspace_id, key, n FROM unnest(${keys}::text[]) WITH ORDINALITY AS u(key, n)${fence()}) AS ${sql.raw(alias)}`;
}

/**
 * On Citus (issue 20) a statement is sent whole to the one node of its workspace only when
 * every distributed table in it is seen to be kept to one workspace by a constant; else it
 * is planned across every shard, where `FOR UPDATE`, and `OFFSET` in a lateral subquery,
 * are refused. The fence hides exactly that constant, so in distributed mode (set by the
 * migrator, for the process: it serves one database) there is none, and PostgreSQL
 * carries the batch's workspace over to the tables joined to it. The workers then plan
 * without the fence's protection against a misjudged workspace condition: measuring that
 * there is left to do (docs/SCALING.md).
 */
let fenceThePlanner = true;
export function planForCitus(): void {
  fenceThePlanner = false;
}
const fence = () => sql.raw(fenceThePlanner ? ' OFFSET 0' : '');

/** Whether this process serves a Citus database (distributed mode, set by the migrator). */
export const inDistributedMode = (): boolean => !fenceThePlanner;

/**
 * The workspace a correlated lookup is keyed by: the outer row `alias`'s column, as the
 * plans on one server were measured with; on Citus the constant, since there a statement
 * is sent whole to the workspace's node only when every table in it is kept to the
 * workspace by one (a constant there made the count of change sets 30% slower on PGlite).
 */
export function workspaceIn(alias: string, workspaceId: string): RawBuilder<unknown> {
  return fenceThePlanner ? sql.ref(`${alias}.workspace_id`) : sql`${workspaceId}::text`;
}

/**
 * The row `alias` kept to the workspace by a constant, on Citus only: there a statement is
 * sent whole to the workspace's node only when every table in it is (an UPDATE's target
 * too, which is not joined to the batch through a fence). On one server the constant is
 * left out: without statistics the planner takes the workspace's rows for a handful and
 * reads them all for each key (issue 15; src/recycle-bin/scale.test.ts counts the reads).
 */
export function keptToWorkspace(alias: string, workspaceId: string): RawBuilder<unknown> {
  return fenceThePlanner ? sql`true` : sql`${sql.ref(`${alias}.workspace_id`)} = ${workspaceId}`;
}

/**
 * Any set of rows (a work table's slice, a subquery) made the driving side of a join in
 * the same way: behind `OFFSET 0`, so its conditions on the workspace are not carried over
 * to the table it is joined to. `rows` must select `workspace_id` for the join.
 */
export function fenced(rows: RawBuilder<unknown>, alias: string): RawBuilder<unknown> {
  return sql`(${rows}${fence()}) AS ${sql.raw(alias)}`;
}

/**
 * `CROSS JOIN LATERAL (…) AS alias`: the rows of `table` that `key` names, looked up for
 * each row of the batch on its own (`key` compares the table's key columns, under `alias`,
 * with the batch's columns, and nothing else; other conditions go outside, on `alias`).
 * Planned apart from the rest of the statement, the lookup has no other index open to it:
 * with more conditions inside, a partial or wider index whose conditions the planner
 * guesses keep almost nothing (0.5% each, without statistics) looks cheaper, and is then
 * read whole for each key. `lock` locks each row found, waiting for a concurrent writer,
 * and then gives its latest version, so conditions outside see what an UPDATE will change.
 *
 * To change rows that pass conditions, a statement takes the keys of those found and
 * joins the table by them alone:
 *
 * ```ts
 * await byKeys(tx, sql`UPDATE deals d SET deleted_at = ${at}
 *   FROM (SELECT x.workspace_id, x.id FROM ${batchOf(ws, ids)} ${lookUp('deals', 'x', sql`x.workspace_id = k.workspace_id AND x.id = k.key`, 'FOR UPDATE')}
 *         WHERE x.deleted_at IS NULL) found
 *   WHERE d.workspace_id = found.workspace_id AND d.id = found.id`);
 * ```
 */
export function lookUp(table: string, alias: string, key: RawBuilder<unknown>, lock?: 'FOR UPDATE' | 'FOR KEY SHARE'): RawBuilder<unknown> {
  const a = sql.raw(alias);
  return sql`CROSS JOIN LATERAL (SELECT ${a}.* FROM ${sql.table(table)} ${a} WHERE ${key}${fence()} ${sql.raw(lock ?? '')}) AS ${a}`;
}

/**
 * Runs a statement written with batchOf or fenced, planned as key lookups: hash and merge
 * joins are off for it (and back on after it), so the planner can only loop over the
 * driving rows and look each one up by index. In a transaction: the settings are local to
 * it, and a statement that fails aborts it, taking them back.
 */
export async function byKeys<R>(tx: Tx, statement: RawBuilder<R>): Promise<QueryResult<R>> {
  // JIT too: a loop over thousands of keys is costed high enough to be compiled, which
  // takes longer than the lookups themselves.
  return withPlannerOff(tx, ['enable_hashjoin', 'enable_mergejoin', 'jit'], statement);
}

/**
 * Runs one statement with these planner settings off (and back on after it): local to
 * the transaction, and taken back with it if the statement fails.
 */
export async function withPlannerOff<R>(tx: Tx, settings: readonly string[], statement: RawBuilder<R>): Promise<QueryResult<R>> {
  const set = (value: 'on' | 'off') => sql`SELECT ${sql.join(settings.map((name) => sql`set_config(${name}, ${value}, true)`))}`;
  await set('off').execute(tx);
  const result = await statement.execute(tx);
  await set('on').execute(tx);
  return result;
}

/**
 * Statistics of a work table just filled, for the statements that join it next: on the
 * columns they join on, from a sample of 3,000 rows (not the default 30,000); the images
 * it holds are not worth sampling.
 */
export async function analyzeWorkTable(tx: Tx, table: string, columns: readonly string[]): Promise<void> {
  await sql`SET LOCAL default_statistics_target = 10`.execute(tx);
  await sql`ANALYZE ${sql.table(table)} (${sql.join(columns.map((c) => sql.ref(c)))})`.execute(tx);
}

/**
 * The versions of one contact in `contact_history`, found by its id alone (the table's
 * hash index on id), as a subquery to filter further: `FROM ${versionsOfContact(sql.ref('v.id'), ws)} n WHERE n.version > …`.
 * Given the workspace and a version bound as well, the planner without statistics would
 * rather AND a scan of the workspace's versions (its primary key) into each lookup: 16,000
 * index entries read per contact at 20,000 contacts, two minutes for a pass that takes a
 * second (issue 15). So the subquery is fenced on every engine. On Citus it names the
 * workspace itself, which sends the statement to the workspace's node, in another
 * collation than the key's: Citus prunes shards by it, and no index can use it, so the
 * workers plan the same lookup by id (without it, counting an import's 100,000 versions
 * on the cluster took minutes).
 */
export function versionsOfContact(id: RawBuilder<unknown> | ReturnType<typeof sql.ref>, workspaceId: string): RawBuilder<unknown> {
  const routed = fenceThePlanner ? sql`` : sql` AND o.workspace_id = ${workspaceId}::text COLLATE "C"`;
  return sql`(SELECT o.workspace_id, o.id, o.version, o.op, o.before, o.txid, o.at, o.actor_id, o.origin FROM contact_history o WHERE o.id = ${id}${routed} OFFSET 0)`;
}
