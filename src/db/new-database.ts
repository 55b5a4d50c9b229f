import pg from 'pg';

/**
 * New databases on a PostgreSQL server for the test suite and the benchmarks, made the
 * same way on one server and on a Citus coordinator (issue 20), so both run on either.
 */

interface CitusWorker {
  nodename: string;
  nodeport: number;
}

/**
 * Creates the database `name` on the server `serverUrl` connects to, and gives its URL
 * (serverUrl's, with the new database). On a Citus coordinator the workers get the
 * database too (propagated), each node the extension in it, and the new database's
 * coordinator then registers itself and the workers, as in the server's own database:
 * Retrace's migrator then distributes its tables. `plain` asks for a database of the
 * coordinator alone, without the extension (as a database from before Citus is).
 */
export async function createDatabase(serverUrl: string, name: string, options: { plain?: boolean } = {}): Promise<string> {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    const workers = await citusWorkers(admin);
    if (workers === null || options.plain) {
      await admin.query(`CREATE DATABASE ${name}`);
    } else {
      await admin.query('SET citus.enable_create_database_propagation = on');
      await admin.query(`CREATE DATABASE ${name}`);
      for (const worker of workers) await onDatabase(workerUrl(url, worker), ['CREATE EXTENSION IF NOT EXISTS citus']);
      await onDatabase(url.toString(), [
        'CREATE EXTENSION IF NOT EXISTS citus',
        `SELECT citus_set_coordinator_host(${pg.escapeLiteral(url.hostname)}, ${Number(url.port || 5432)})`,
        ...workers.map((worker) => `SELECT citus_add_node(${pg.escapeLiteral(worker.nodename)}, ${worker.nodeport})`),
      ]);
    }
  } finally {
    await admin.end();
  }
  return url.toString();
}

/**
 * Drops the database `name` if it exists, closing its sessions; on a Citus coordinator
 * the workers' copies go with it.
 */
export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    if ((await citusWorkers(admin)) !== null) await admin.query('SET citus.enable_create_database_propagation = on');
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/** The worker nodes when `admin` is connected to a Citus coordinator, else null. */
async function citusWorkers(admin: pg.Client): Promise<CitusWorker[] | null> {
  const { rows } = await admin.query<{ found: boolean }>("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS found");
  if (!rows[0].found) return null;
  return (await admin.query<CitusWorker>("SELECT nodename, nodeport FROM pg_dist_node WHERE noderole = 'primary' AND groupid <> 0 ORDER BY nodeid")).rows;
}

function workerUrl(url: URL, worker: CitusWorker): string {
  const at = new URL(url);
  at.hostname = worker.nodename;
  at.port = String(worker.nodeport);
  return at.toString();
}

async function onDatabase(url: string, statements: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const statement of statements) await client.query(statement);
  } finally {
    await client.end();
  }
}
