import pg from 'pg';
import { dropDatabase } from '../db/new-database.js';

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
    await client.end();
    // On a Citus coordinator the drop reaches the workers' copies too.
    for (const { datname } of rows) await dropDatabase(serverUrl, datname);
  };
}
