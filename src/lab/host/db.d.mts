// Types for db.mjs (plain JS so the lab hosts run it under bare node), used by `lab up` and tests.
import type { Database } from 'better-sqlite3';
export function openDb(dbPath: string, driverPath: string): Database;
export function initSchema(db: Database): void;
export function schemaVersion(db: Database): number;
export function migrate(db: Database): boolean;
export const TARGET_VERSION: number;
