// A forge's own database as the policy's fact source (docs/design/fact-sources.md §6).
//
// `schemaAnswers(db)` answers the policy's questions from the Gitea-shaped tables of
// examples/forge-schema/schema.sql with one indexed statement per fact (two more for protected
// refs, only when a repository has some), each answer the §1 boundary object, for
// `boundaryFacts`. `undefined` is "no such fact"; a driver error propagates, and the policy
// turns it into the 503 `policy-failure` deny (never "not found"). Nothing is cached: an
// `UPDATE access_token SET revoked_unix = ...` holds from the next decision.
//
// `db` is `{rows(sql, params, ctx)}`: SQL in PostgreSQL's `$n` style, rows as arrays. It may
// answer synchronously (SQLite through sql.js: `policy.decide`) or with promises (PostgreSQL
// through pg: `policy.decideAsync`, whose `{signal}` is passed on as `ctx`); the same code
// serves both. `sqlJsDatabase` and `pgDatabase` below are the two drivers.

import { readFileSync } from 'node:fs';
import { asciiLower } from '../lib/util.js';
import { drive } from '../lib/facts.js';

/** The schema's DDL text ({ID}, {BLOB} unreplaced). */
export const SCHEMA_SQL = readFileSync(new URL('../../../examples/forge-schema/schema.sql', import.meta.url), 'utf8');

const VISIBILITY = ['public', 'limited', 'private']; // Gitea VisibleType 0, 1, 2
const MODE_ROLE = { 1: 'read', 2: 'write', 3: 'admin', 4: 'admin' }; // Gitea AccessMode (4: owner)
const ROLES = ['none', 'read', 'write', 'admin'];

// ---- the statements (§6) ---------------------------------------------------------------------

const TOKEN = `SELECT t.public_id, u.name, t.name, t.scope, t.bound_repositories, t.bound_owners,
 t.parent_public_id, t.predecessor_public_id, t.successor_public_id, t.last_used_unix,
 t.created_unix, t.expires_unix, t.revoked_unix, t.secret_digest, t.digest_kind, t.ip_allow
 FROM access_token t JOIN "user" u ON u.id = t.uid WHERE t.public_id = $1`;

const USER = `SELECT type, is_active, prohibit_login, is_admin, visibility FROM "user" WHERE lower_name = $1`;

const REPOSITORY = `SELECT o.name, r.name, o.visibility, r.is_private, r.is_mirror, r.is_import,
 r.is_archived, reg.name,
 (SELECT c.mode FROM collaboration c WHERE c.repo_id = r.id AND c.user_id = v.id),
 (SELECT max(t.authorize) FROM team_user tu JOIN team t ON t.id = tu.team_id
   WHERE o.type = 1 AND tu.org_id = o.id AND tu.uid = v.id
   AND (t.includes_all_repositories = 1
        OR EXISTS (SELECT 1 FROM team_repo tr WHERE tr.team_id = t.id AND tr.repo_id = r.id))),
 (SELECT count(*) FROM protected_branch p WHERE p.repo_id = r.id), r.id, o.ip_allow
 FROM "user" o JOIN repository r ON r.owner_id = o.id AND r.lower_name = $2
 LEFT JOIN "user" v ON v.lower_name = $3 LEFT JOIN "user" reg ON reg.id = r.registrant_id
 WHERE o.lower_name = $1`;

const PROTECTED = `SELECT id, rule_name, push_access, force_push_access FROM protected_branch
 WHERE repo_id = $1 ORDER BY priority`;

const PROTECTED_USERS = `SELECT pu.protected_branch_id, pu.rule, u.name FROM protected_branch_user pu
 JOIN protected_branch p ON p.id = pu.protected_branch_id JOIN "user" u ON u.id = pu.user_id
 WHERE p.repo_id = $1 ORDER BY pu.protected_branch_id, pu.rule, pu.position`;

const NAMESPACE = `SELECT u.name, u.type, u.visibility,
 (SELECT max(t.authorize) FROM team_user tu JOIN team t ON t.id = tu.team_id
   WHERE u.type = 1 AND tu.org_id = u.id AND tu.uid = v.id), u.ip_allow
 FROM "user" u LEFT JOIN "user" v ON v.lower_name = $2 WHERE u.lower_name = $1`;

const SSH_KEY = `SELECT k.key_id, k.type, u.name, ro.name || '/' || r.name, d.mode
 FROM public_key k LEFT JOIN "user" u ON u.id = k.owner_id
 LEFT JOIN deploy_key d ON d.key_id = k.id LEFT JOIN repository r ON r.id = d.repo_id
 LEFT JOIN "user" ro ON ro.id = r.owner_id WHERE k.key_id = $1`;

// ---- rows → §1 answers (the same mapping in every host) ----------------------------------------

const role = (mode) => (mode == null ? 'none' : MODE_ROLE[Number(mode)] ?? 'none');
const higher = (a, b) => (ROLES.indexOf(a) >= ROLES.indexOf(b) ? a : b);
const int = (v) => (v == null ? null : Number(v)); // pg returns BIGINT as text
const hex = (bytes) => Buffer.from(bytes.buffer ?? bytes, bytes.byteOffset ?? 0, bytes.byteLength ?? bytes.length).toString('hex');

function* token(id) {
  const [r] = yield [TOKEN, [id]];
  if (!r) return undefined;
  const [publicId, owner, name, scope, repos, owners, parent, predecessor, successor, lastUsed, created, expires, revoked, digest, kind, ipAllow] = r;
  const t = { id: publicId, owner, name, scopes: scope ? scope.split(',') : [], repositories: JSON.parse(repos), owners: JSON.parse(owners) };
  if (parent != null) t.parent = parent;
  if (predecessor != null) t.predecessor = predecessor;
  if (successor != null) t.successor = successor;
  if (lastUsed != null) t.last_used = int(lastUsed);
  Object.assign(t, { created: int(created), expires: int(expires), revoked: int(revoked), secret_hash: hex(digest), digest: kind });
  const blocks = JSON.parse(ipAllow); // IP allow lists: JSON arrays, [] for none (contract 0.6)
  if (blocks.length > 0) t.ip_allow = blocks;
  return t;
}

function* user(name) {
  const [r] = yield [USER, [asciiLower(name)]];
  if (!r) return undefined;
  const [type, active, prohibitLogin, admin, visibility] = r;
  const status = Number(prohibitLogin) ? 'suspended' : Number(active) ? 'active' : 'inactive';
  return { status, site_admin: Boolean(Number(admin)), visibility: VISIBILITY[visibility], organization: Number(type) === 1 };
}

function* repository(path, viewer) {
  const slash = path.indexOf('/');
  if (slash < 0) return undefined;
  const v = viewer == null ? null : asciiLower(viewer);
  const [r] = yield [REPOSITORY, [asciiLower(path.slice(0, slash)), asciiLower(path.slice(slash + 1)), v]];
  if (!r) return undefined;
  const [ownerName, name, ownerVisibility, isPrivate, mirror, imported, archived, registrant, collaboration, team, protectedCount, repoId, ipAllow] = r;
  const answer = {
    path: `${ownerName}/${name}`,
    owner_visibility: VISIBILITY[ownerVisibility],
    private: Boolean(Number(isPrivate)),
    kind: Number(imported) ? 'import' : Number(mirror) ? 'mirror' : 'hosted',
    archived: Boolean(Number(archived)),
    role: higher(role(collaboration), role(team)),
  };
  if (Number(protectedCount) > 0) {
    const users = new Map();
    for (const [rule, kind, login] of yield [PROTECTED_USERS, [repoId]]) {
      const k = `${rule}:${kind}`;
      if (!users.has(k)) users.set(k, []);
      users.get(k).push(login);
    }
    const access = (rule, kind, a) => (a === 'users' ? { users: users.get(`${rule}:${kind}`) ?? [] } : a);
    answer.protected_refs = (yield [PROTECTED, [repoId]]).map(([id, pattern, push, force]) => ({
      pattern,
      push: access(id, 'push', push),
      force_push: access(id, 'force_push', force),
    }));
  }
  if (registrant != null) answer.registrant = registrant;
  const blocks = JSON.parse(ipAllow);
  if (blocks.length > 0) answer.owner_ip_allow = blocks;
  return answer;
}

function* namespace(name, viewer) {
  const v = viewer == null ? null : asciiLower(viewer);
  const [r] = yield [NAMESPACE, [asciiLower(name), v]];
  if (!r) return undefined;
  const [login, type, visibility, team, ipAllow] = r;
  const organization = Number(type) === 1;
  let memberRole;
  if (v === null) memberRole = 'none';
  else if (!organization && asciiLower(login) === v) memberRole = 'admin';
  else memberRole = role(team);
  const answer = { organization, visibility: VISIBILITY[visibility], member_role: memberRole };
  const blocks = JSON.parse(ipAllow);
  if (blocks.length > 0) answer.ip_allow = blocks;
  return answer;
}

function* sshKey(id) {
  const [r] = yield [SSH_KEY, [id]];
  if (!r) return undefined;
  const [keyId, type, owner, repo, mode] = r;
  if (Number(type) === 2) return { id: keyId, kind: 'deploy', owner: owner ?? '', repository: repo, read_only: Number(mode) === 1 };
  return { id: keyId, kind: 'user', owner: owner ?? '', read_only: false };
}

/**
 * The per-fact functions over the schema, for `boundaryFacts(schemaAnswers(db))`. Each
 * answers synchronously when `db` does, with a promise when `db` does.
 */
export function schemaAnswers(db) {
  const run = (gen, ctx) => drive(gen, ([sql, params]) => db.rows(sql, params, ctx));
  return {
    token: (id, ctx) => run(token(id), ctx),
    user: (name, ctx) => run(user(name), ctx),
    repository: (path, viewer, ctx) => run(repository(path, viewer), ctx),
    namespace: (name, viewer, ctx) => run(namespace(name, viewer), ctx),
    sshKey: (id, ctx) => run(sshKey(id), ctx),
  };
}

// ---- drivers -------------------------------------------------------------------------------------

/** `$n` → SQLite's `?n`. */
export const sqliteSql = (sql) => sql.replace(/\$(\d+)/g, '?$1');

/** The schema's DDL for SQLite (`sqlite`) or PostgreSQL (`postgres`). */
export const schemaDdl = (dialect) =>
  dialect === 'postgres' ? SCHEMA_SQL.replaceAll('{ID}', 'BIGINT PRIMARY KEY').replaceAll('{BLOB}', 'BYTEA') : SCHEMA_SQL.replaceAll('{ID}', 'INTEGER PRIMARY KEY').replaceAll('{BLOB}', 'BLOB');

/**
 * A synchronous `db` over a sql.js `Database` (SQLite compiled to WebAssembly): each statement
 * prepared once and kept. `close()` frees them (the database is the caller's).
 */
export function sqlJsDatabase(database) {
  const prepared = new Map();
  const statement = (sql) => {
    let s = prepared.get(sql);
    if (s === undefined) {
      s = database.prepare(sqliteSql(sql));
      prepared.set(sql, s);
    }
    return s;
  };
  return {
    rows(sql, params = []) {
      const s = statement(sql);
      try {
        s.bind(params);
        const out = [];
        while (s.step()) out.push(s.get());
        return out;
      } finally {
        s.reset();
      }
    },
    close() {
      for (const s of prepared.values()) s.free();
      prepared.clear();
    },
  };
}

/**
 * An asynchronous `db` over a pg `Pool` (or `Client`): rows as arrays, and a query aborted
 * with its decision's budget is cancelled by the pool's statement timeout (pg has no
 * per-query abort), which the connection string or pool options set.
 */
export function pgDatabase(pool) {
  return {
    async rows(sql, params = [], ctx) {
      ctx?.signal?.throwIfAborted();
      const r = await pool.query({ text: sql, values: params, rowMode: 'array' });
      return r.rows;
    },
  };
}
