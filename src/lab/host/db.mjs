// Schema and migration of the lab's shared database. Plain JS (not TS) because it runs on the
// lab "hosts" under bare `node`, like a deployed artifact would: no tsx, no build step.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** Opens the shared SQLite file; `driverPath` is the repo's better-sqlite3 (hosts have no node_modules). */
export function openDb(dbPath, driverPath) {
  const Database = require(driverPath);
  const db = new Database(dbPath);
  // WAL lets every host read while one writes; busy_timeout turns write contention into waiting.
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  return db;
}

export function initSchema(db) {
  db.exec(`
    CREATE TABLE IF NOT EXISTS items (
      id TEXT PRIMARY KEY,
      value TEXT,
      host TEXT NOT NULL,
      release TEXT NOT NULL,
      created_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at TEXT NOT NULL
    );
  `);
  db.prepare('INSERT OR IGNORE INTO schema_migrations (version, name, applied_at) VALUES (1, ?, ?)').run(
    'initial',
    new Date().toISOString(),
  );
}

export const TARGET_VERSION = 2;

export function schemaVersion(db) {
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get();
  return row?.v ?? 0;
}

/**
 * Migration 2 (what v3 needs): items.tags. Adding a column with a default is safe while v1/v2
 * serve: they name their columns, so their inserts get the default and their selects ignore it.
 * Returns true when it changed the schema, false when it was already applied.
 */
export function migrate(db) {
  const apply = db.transaction(() => {
    if (schemaVersion(db) >= TARGET_VERSION) return false;
    db.exec(`ALTER TABLE items ADD COLUMN tags TEXT NOT NULL DEFAULT '[]'`);
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
      TARGET_VERSION,
      'items.tags',
      new Date().toISOString(),
    );
    return true;
  });
  // IMMEDIATE takes the write lock up front, so two concurrent migrate runs cannot both see v1.
  return apply.immediate();
}
