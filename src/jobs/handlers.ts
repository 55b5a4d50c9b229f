import type { JobHandler } from './service.js';
import { restoreJobHandler } from '../recycle-bin/service.js';
import { rollbackJobHandler } from '../rollbacks/service.js';
import { importJobHandler } from '../imports/service.js';
import { undoJobHandler } from '../undo/service.js';

/**
 * Every kind of background job. Features add their handler here; the worker and
 * POST /maintenance/run look jobs up by kind.
 */
export const jobHandlers: JobHandler[] = [restoreJobHandler, rollbackJobHandler, importJobHandler, undoJobHandler];
