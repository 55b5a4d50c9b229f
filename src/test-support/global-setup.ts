import pg from 'pg';

/**
 * With TEST_DATABASE_URL, names this run's databases on that server and hands the workers
 * a URL to derive theirs from (see testDatabase); drops them all afterwards.
 */
export default async function setup(): Promise<(() => Promise<void>) | void> {
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) return;
  const name = `retrace_test_${process.pid}_${Date.now()}`;
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  process.env.RETRACE_TEST_DATABASE = url.toString();
  process.env.RETRACE_TEST_SERVER = serverUrl;
  return async () => {
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    const { rows } = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${name}%`]);
    // On a Citus coordinator the drop reaches the workers' copies too.
    const { rows: citus } = await client.query<{ found: boolean }>("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS found");
    if (citus[0].found) await client.query('SET citus.enable_create_database_propagation = on');
    for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
    await client.end();
  };
}
