import type { MaintenanceTask } from './service.js';

/**
 * Every kind of due background work, in the order a maintenance pass runs it. Features
 * add their task here: POST /maintenance/run and the background schedule both run this.
 */
export const maintenanceTasks: MaintenanceTask[] = [];
