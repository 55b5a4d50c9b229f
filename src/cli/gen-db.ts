import { writeFile } from 'node:fs/promises';
import { connectPGlite, migrate } from '../db/database.js';
import { tableTypesFile, tableTypesSource } from '../db/table-types.js';

/**
 * `npm run gen:db`: migrates an empty in-memory database with the project's migrator and
 * writes the tables' types from it (src/db/schema.ts). A PostgreSQL server's database
 * gives the same file: the test of it runs on both engines.
 */
const database = await connectPGlite(undefined);
try {
  await migrate(database);
  await writeFile(tableTypesFile, await tableTypesSource(database));
  console.log(`Wrote ${tableTypesFile}`);
} finally {
  await database.close();
}
