// Test-only: a world fixture → rows of the forge schema (docs/design/fact-sources.md §6
// "Loader"; the same rows as hosts/python/tests/schema_loader.py), so the corpus and the
// served example run against a forge's own tables:
// - users → "user"; each organisation's `members` → one team per role used (including all
//   repositories), `team_user` and `org_user` (the world's member role applies to every
//   repository of the organisation);
// - collaborators → `collaboration`; protected refs → `protected_branch` (priority = list
//   index) and `protected_branch_user`; tokens → `access_token`; SSH keys → `public_key`
//   (+ `deploy_key`).
// A name the world mentions without listing it as a user (a collaborator, a member, a token
// owner) gets a row of its own, `is_active = 0`, so that the joins hold.
import initSqlJs from 'sql.js';
import { World } from '../index.js';
import { asciiLower } from '../lib/util.js';
import { pgDatabase, schemaDdl, sqlJsDatabase, sqliteSql } from '../examples/forge-schema.js';

const VISIBILITY = { public: 0, limited: 1, private: 2 };
const ROLE_MODE = { read: 1, write: 2, admin: 3 };

/** Write `world` (a `World`) into the schema through `exec(sql, params)` (`$n` placeholders). */
export function load(exec, world) {
  let next = 0;
  const id = () => ++next;
  const users = new Map();
  const userId = (name, u = { name, status: 'inactive', site_admin: false, visibility: 'public', organization: false }) => {
    const key = asciiLower(name);
    if (users.has(key)) return users.get(key);
    const uid = id();
    users.set(key, uid);
    exec('INSERT INTO "user" (id, lower_name, name, type, is_active, prohibit_login, is_admin, visibility, ip_allow) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)', [
      uid,
      key,
      u.name,
      u.organization ? 1 : 0,
      u.status === 'active' ? 1 : 0,
      u.status === 'suspended' ? 1 : 0,
      u.site_admin ? 1 : 0,
      VISIBILITY[u.visibility],
      JSON.stringify(u.ip_allow ?? []),
    ]);
    return uid;
  };
  for (const u of world.users) userId(u.name, u);
  for (const u of world.users.filter((x) => x.organization)) {
    const org = users.get(asciiLower(u.name));
    const teams = new Map();
    for (const [member, role] of u.members) {
      if (role === 'none') continue;
      if (!teams.has(role)) {
        teams.set(role, id());
        exec('INSERT INTO team (id, org_id, lower_name, name, authorize, includes_all_repositories) VALUES ($1, $2, $3, $4, $5, 1)', [teams.get(role), org, role, role, ROLE_MODE[role]]);
      }
      const uid = userId(member);
      exec('INSERT INTO team_user (id, org_id, team_id, uid) VALUES ($1, $2, $3, $4)', [id(), org, teams.get(role), uid]);
      exec('INSERT INTO org_user (id, uid, org_id, is_public) VALUES ($1, $2, $3, 0)', [id(), uid, org]);
    }
  }
  const repos = new Map();
  for (const r of world.repos) {
    const rid = id();
    repos.set(asciiLower(`${r.owner}/${r.name}`), rid);
    exec('INSERT INTO repository (id, owner_id, owner_name, lower_name, name, is_private, is_mirror, is_archived, is_import, registrant_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)', [
      rid,
      userId(r.owner),
      r.owner,
      asciiLower(r.name),
      r.name,
      r.private ? 1 : 0,
      r.kind === 'mirror' ? 1 : 0,
      r.archived ? 1 : 0,
      r.kind === 'import' ? 1 : 0,
      r.registrant === undefined ? null : userId(r.registrant),
    ]);
    for (const [name, role] of r.collaborators) {
      if (role !== 'none') exec('INSERT INTO collaboration (id, repo_id, user_id, mode) VALUES ($1, $2, $3, $4)', [id(), rid, userId(name), ROLE_MODE[role]]);
    }
    r.protected_refs.forEach((p, priority) => {
      const pid = id();
      const kind = (a) => (typeof a === 'string' ? a : 'users');
      exec('INSERT INTO protected_branch (id, repo_id, rule_name, priority, push_access, force_push_access) VALUES ($1, $2, $3, $4, $5, $6)', [pid, rid, p.pattern, priority, kind(p.push), kind(p.force_push)]);
      for (const [rule, a] of [['push', p.push], ['force_push', p.force_push]]) {
        (typeof a === 'string' ? [] : a.users).forEach((name, position) => {
          exec('INSERT INTO protected_branch_user (protected_branch_id, rule, position, user_id) VALUES ($1, $2, $3, $4)', [pid, rule, position, userId(name)]);
        });
      }
    });
  }
  for (const t of world.tokens) insertToken(exec, id(), userId(t.owner), t);
  for (const k of world.sshKeys) {
    const kid = id();
    const deploy = k.kind === 'deploy';
    exec('INSERT INTO public_key (id, key_id, owner_id, name, type) VALUES ($1, $2, $3, $4, $5)', [kid, k.id, k.owner ? userId(k.owner) : null, k.id, deploy ? 2 : 1]);
    if (deploy) {
      exec('INSERT INTO deploy_key (id, key_id, repo_id, name, mode) VALUES ($1, $2, $3, $4, $5)', [id(), kid, repos.get(asciiLower(k.repository)), k.id, k.read_only ? 1 : 2]);
    }
  }
}

/** One `access_token` row from a token record (a `TokenDef`). */
export function insertToken(exec, rowId, uid, t) {
  exec(
    'INSERT INTO access_token (id, uid, name, public_id, scope, secret_digest, digest_kind, bound_repositories, bound_owners, parent_public_id, predecessor_public_id, successor_public_id, created_unix, last_used_unix, expires_unix, revoked_unix, ip_allow) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)',
    [
      rowId,
      uid,
      t.name,
      t.id,
      t.scopes.join(','),
      new Uint8Array(Buffer.from(t.secret_hash, 'hex')),
      t.digest ?? 'sha256',
      JSON.stringify(t.repositories ?? []),
      JSON.stringify(t.owners ?? []),
      t.parent ?? null,
      t.predecessor ?? null,
      t.successor ?? null,
      t.created,
      t.last_used ?? null,
      t.expires ?? null,
      t.revoked ?? null,
      JSON.stringify(t.ip_allow ?? []),
    ],
  );
}

let SQL;

/**
 * A fresh in-memory SQLite database (sql.js) holding `world` (a `World` or a fixture):
 * `{database, db}`, `database` the sql.js handle (for UPDATEs), `db` the driver for
 * `schemaAnswers`.
 */
export async function sqliteWorld(world) {
  SQL ??= await initSqlJs();
  const w = world instanceof World ? world : new World(world);
  const database = new SQL.Database();
  // One connection: keep the lock, so that each statement does not re-check the file
  // through sql.js's in-memory file system (several times faster per statement).
  database.exec('PRAGMA locking_mode = EXCLUSIVE');
  database.exec(schemaDdl('sqlite'));
  const exec = (sql, params) => database.run(sqliteSql(sql), params);
  database.exec('BEGIN');
  load(exec, w);
  database.exec('COMMIT');
  return { database, db: sqlJsDatabase(database), exec };
}

/**
 * The PostgreSQL database at `url` (FORGE_AUTHZ_PG_URL), its schema `schema` emptied and holding
 * `world` (each test file its own schema: `node --test` may run files at once): `{pool, db}`,
 * `db` the driver for `schemaAnswers` (answers are promises: `decideAsync`). Statements time
 * out after 2 s (`statement_timeout`), as a forge bounds its own I/O.
 */
export async function postgresWorld(url, world, schema, pool) {
  if (!/^[a-z_]+$/.test(schema)) throw new Error(`schema name \`${schema}\``);
  const { default: pg } = await import('pg');
  pool ??= new pg.Pool({ connectionString: url, max: 2, statement_timeout: 2000, connectionTimeoutMillis: 5000, options: `-c search_path=${schema}` });
  const w = world instanceof World ? world : new World(world);
  const statements = [];
  load((sql, params) => statements.push([sql, params.map((v) => (v instanceof Uint8Array ? Buffer.from(v) : v))]), w);
  const client = await pool.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`);
    await client.query(schemaDdl('postgres'));
    await client.query('BEGIN');
    for (const [sql, params] of statements) await client.query(sql, params);
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  return { pool, db: pgDatabase(pool) };
}
