import { writeFile } from 'node:fs/promises';
import { createContext, createServer } from '../app.js';
import { readConfig } from '../config.js';
import { connectPGlite } from '../db/database.js';
import { apiSchemaFile, apiSchemaSource } from '../http/api-schema.js';
import { silentLogger } from '../logger.js';

/**
 * `npm run gen:api`: builds the server (routes only: no migration, no listening, an
 * empty in-memory database), takes its OpenAPI document and writes the web UI's types
 * from it.
 */
const database = await connectPGlite(undefined);
try {
  const { ctx } = await createContext(database, readConfig({}), silentLogger);
  const server = await createServer(ctx);
  await server.ready();
  await writeFile(apiSchemaFile, await apiSchemaSource(server.swagger()));
  await server.close();
  console.log(`Wrote ${apiSchemaFile}`);
} finally {
  await database.close();
}
