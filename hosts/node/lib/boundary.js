// The boundary format (docs/design/fact-sources.md §1): a forge's per-fact functions answer
// in the same plain JSON objects in every host language (snake_case fields, the WIT's
// kebab-case enum values, a token as the fixture's `TokenDef`), and `boundaryFacts` turns
// them into the policy's facts with the rules of the answer (fixture/src/boundary.rs is the
// Rust adapter applying the same rules):
//
// - strict: every field that can decide is required, unknown fields are refused, an enum
//   value the WIT does not have is refused; the error names the field;
// - the answer describes exactly the name asked: a token's `id` is the asked id, a
//   repository's `path` (when given) the asked path, ASCII case-insensitively, an SSH key's
//   `id` the asked id; a batch has one entry per path;
// - a token digest is strict: `secret_hash` is 64 hex digits, `digest` `hmac-tag` or
//   `sha256` (the world's fallback to a digest that matches nothing does not apply);
// - absent is `undefined` or `null`; anything else that is not a good answer throws, and the
//   decision is the `policy-failure` deny (503), never "not found".
//
// Also here: the checks every fact source's answer gets before jco lowers it
// (`checkFactAnswer`; jco would read a misspelt field as `false`), and the query JSON the
// `observe` option is told (§1: all seven keys always present).

import { InputError, bool, eqIgnoreAsciiCase, fail, field, int64, list, oneOf, onlyFields, optField, str } from './util.js';
import {
  KEY_KIND,
  NO_BLOCKS,
  REPO_KIND,
  ROLES,
  STATUS,
  VISIBILITY,
  STORED_PATH,
  accessToWit,
  checked,
  composed,
  isThenable,
  readProtectedRef,
  readSshKey,
  readTokenDef,
  recordFromTokenDef,
  sshKeyFromDef,
  tokenDefFromRecord,
  tokenFactsFromRecord,
  withRegistrant,
} from './facts.js';

const status = oneOf(STATUS, 'status');
const visibility = oneOf(VISIBILITY, 'visibility');
const repoKind = oneOf(REPO_KIND, 'repository kind');
const role = oneOf(ROLES, 'role');

// ---- the query JSON (§1) ---------------------------------------------------------------------

/** A fact query (jco's shape) as §1's query JSON value: all seven keys, `null` for none. */
export function queryJson(q) {
  return {
    token: q.token ?? null,
    account: q.account ?? null,
    sudo: q.sudo ?? null,
    repository: q.repository ?? null,
    namespace: q.namespace ?? null,
    viewer: q.viewer,
    registrant: q.registrant,
  };
}

/** The text `observe` is told for a lookup: `{"lookup": <query JSON>}`. */
export const askedLookup = (q) => JSON.stringify({ lookup: queryJson(q) });

/** The text `observe` is told for a batch: `{"repositories": {"paths": [...], "viewer": ...}}`. */
export const askedBatch = (paths, viewer) => JSON.stringify({ repositories: { paths, viewer: viewer ?? null } });

// ---- boundary JSON → the policy's facts --------------------------------------------------------

/** A user's facts (`{status, site_admin, visibility, organization}`, all required). */
export function userAnswer(v, path) {
  onlyFields(v, ['status', 'site_admin', 'visibility', 'organization'], path);
  return {
    status: field(v, 'status', path, status),
    siteAdmin: field(v, 'site_admin', path, bool),
    visibility: field(v, 'visibility', path, visibility),
    organization: field(v, 'organization', path, bool),
  };
}

/**
 * A repository as the viewer sees it: `{path?, owner_visibility, private, kind, archived,
 * role, protected_refs?, registrant?, owner_ip_allow?}` → `{path: <as stored>, facts}`;
 * `path`, when given, must be `asked` (ASCII case-insensitively). An absent IP allow list is
 * none (`[]`), as in the Rust adapter.
 */
export function repositoryAnswer(v, asked, path = `repository \`${asked}\``) {
  onlyFields(v, ['path', 'owner_visibility', 'private', 'kind', 'archived', 'role', 'protected_refs', 'registrant', 'owner_ip_allow'], path);
  const stored = optField(v, 'path', path, str);
  if (stored !== undefined && !eqIgnoreAsciiCase(stored, asked)) fail(path, `answered for repository \`${stored}\`, not \`${asked}\``);
  const facts = {
    ownerVisibility: field(v, 'owner_visibility', path, visibility),
    private: field(v, 'private', path, bool),
    kind: field(v, 'kind', path, repoKind),
    archived: field(v, 'archived', path, bool),
    role: field(v, 'role', path, role),
    ownerIpAllow: field(v, 'owner_ip_allow', path, list(str), () => NO_BLOCKS),
  };
  const refs = field(v, 'protected_refs', path, list(readProtectedRef), () => []);
  if (refs.length > 0) facts.protectedRefs = refs.map((p) => ({ pattern: p.pattern, push: accessToWit(p.push), forcePush: accessToWit(p.force_push) }));
  const registrant = optField(v, 'registrant', path, str);
  if (registrant !== undefined) facts.registrant = registrant;
  facts[STORED_PATH] = stored ?? asked;
  return { path: stored ?? asked, facts };
}

/**
 * A namespace as the viewer sees it (`{organization, visibility, member_role}`, all required;
 * `ip_allow` absent: none).
 */
export function namespaceAnswer(v, path) {
  onlyFields(v, ['organization', 'visibility', 'member_role', 'ip_allow'], path);
  return {
    organization: field(v, 'organization', path, bool),
    visibility: field(v, 'visibility', path, visibility),
    memberRole: field(v, 'member_role', path, role),
    ipAllow: field(v, 'ip_allow', path, list(str), () => NO_BLOCKS),
  };
}

const HASH = /^[0-9a-fA-F]{64}$/;
const wellFormed = (def) => HASH.test(def.secret_hash) && (def.digest === 'hmac-tag' || def.digest === 'sha256');

/** A token record (`TokenDef`) as the decision's `TokenFacts`: its id must be `asked`, its digest strict. */
export function tokenAnswer(v, asked, path = `token \`${asked}\``) {
  const def = readTokenDef(v, path);
  if (def.id !== asked) fail(path, `answered for token \`${def.id}\`, not \`${asked}\``);
  if (!HASH.test(def.secret_hash)) fail(path, 'secret_hash: not 64 hex digits');
  if (!wellFormed(def)) fail(path, `digest: \`${def.digest}\` is neither \`hmac-tag\` nor \`sha256\``);
  return tokenFactsFromRecord(recordFromTokenDef(def), def.ip_allow ?? NO_BLOCKS);
}

/** An SSH key (`SshKeyDef`) as the policy's key: its id must be `asked`, and it must be usable. */
export function sshKeyAnswer(v, asked, path = `ssh key \`${asked}\``) {
  const k = readSshKey(v, path);
  if (k.id !== asked) fail(path, `answered for ssh key \`${k.id}\`, not \`${asked}\``);
  return sshKeyFromDef(k);
}

const LOOKUP_KEYS = ['token', 'owner', 'account', 'sudo', 'repository', 'namespace'];

/** The `lookup` override's answer (all six keys, `null` for none), checked against the query. */
export function lookupAnswer(query, v, path = 'lookup') {
  onlyFields(v, LOOKUP_KEYS, path);
  for (const k of LOOKUP_KEYS) if (v[k] === undefined) fail(path, `missing field \`${k}\``);
  const notAsked = (k, asked) => {
    if (v[k] !== null && !asked) fail(path, `answered \`${k}\`, which was not asked`);
    return v[k] !== null;
  };
  const answer = {};
  if (notAsked('token', query.token !== undefined)) answer.token = tokenAnswer(v.token, query.token, `${path}.token`);
  if (notAsked('owner', answer.token !== undefined)) answer.owner = userAnswer(v.owner, `${path}.owner`);
  if (notAsked('account', query.account !== undefined)) answer.account = userAnswer(v.account, `${path}.account`);
  if (notAsked('sudo', query.sudo !== undefined)) answer.sudo = userAnswer(v.sudo, `${path}.sudo`);
  if (notAsked('repository', query.repository !== undefined)) {
    answer.repository = withRegistrant(repositoryAnswer(v.repository, query.repository, `${path}.repository`).facts, query.registrant);
  }
  if (notAsked('namespace', query.namespace !== undefined)) answer.namespace = namespaceAnswer(v.namespace, `${path}.namespace`);
  return answer;
}

/** The `repositories` override's answer: one repository answer (or `null`) per path. */
export function batchAnswer(paths, v, path = 'repositories') {
  if (!Array.isArray(v)) fail(path, 'expected a list');
  if (v.length !== paths.length) fail(path, `${v.length} answers for ${paths.length} paths`);
  return v.map((r, i) => (r == null ? undefined : withRegistrant(repositoryAnswer(r, paths[i], `${path}[${i}]`).facts, false)));
}

const then = (v, f) => (isThenable(v) ? Promise.resolve(v).then(f) : f(v));

/**
 * A fact source from a forge's per-fact functions answering in the boundary format (§1):
 *
 * - `token(id)` → a `TokenDef` (`{id, owner, name, scopes, repositories, owners, parent?,
 *   predecessor?, successor?, last_used?, created, expires, revoked, secret_hash, digest,
 *   ip_allow?}`);
 * - `user(name)` → `{status, site_admin, visibility, organization}`;
 * - `repository(path, viewer)` → `{path?, owner_visibility, private, kind, archived, role,
 *   protected_refs?, registrant?, owner_ip_allow?}` (`viewer`: a login, `undefined` for
 *   anonymous);
 * - `namespace(name, viewer)` → `{organization, visibility, member_role, ip_allow?}`;
 * - optional: `sshKey(id)` → an `SshKeyDef`; `repositories(paths, viewer)` → a list of
 *   repository answers or `null`, one per path; `lookup(query)` (§1 query JSON) → `{token,
 *   owner, account, sudo, repository, namespace}` (`null` for none); `now()`.
 *
 * `undefined`/`null` is "no such fact". A throw, a rejected promise or a malformed answer fails
 * the decision (`policy-failure`, 503). Every function may return a promise (decide with
 * `policy.decideAsync`, which passes `{signal}` as the last argument: abort the read when it
 * fires); with `policy.decide` they must answer synchronously.
 */
export function boundaryFacts(source) {
  if (source === null || typeof source !== 'object') throw new TypeError('boundaryFacts: expected an object of functions');
  const convert = (step, v) => {
    if (v == null) return undefined;
    switch (step[0]) {
      case 'token':
        return tokenAnswer(v, step[1]);
      case 'user':
        return userAnswer(v, `user \`${step[1]}\``);
      case 'repository':
        return repositoryAnswer(v, step[1]).facts;
      case 'namespace':
        return namespaceAnswer(v, `namespace \`${step[1]}\``);
      default:
        return sshKeyAnswer(v, step[1]);
    }
  };
  const facts = composed(source, convert);
  if (typeof source.lookup === 'function') {
    facts.lookup = (query, ctx) => then(source.lookup(queryJson(query), ctx), (a) => lookupAnswer(query, a));
  }
  if (typeof source.repositories === 'function') {
    facts.repositories = (paths, viewer, ctx) => then(source.repositories(paths, viewer, ctx), (a) => batchAnswer(paths, a));
  }
  if (typeof source.now === 'function') facts.now = () => source.now();
  return checked(facts);
}

// ---- a world's answers in the boundary format (tests, benchmarks) -----------------------------

const witToAccess = (a) => (a.tag === 'users' ? { users: a.val } : a.tag);

/**
 * Per-fact functions answering from a `World` in the boundary format: what a forge's
 * functions would answer if its database held that world (fixture/src/boundary.rs
 * `WorldCallbacks`). `boundaryFacts(worldAnswers(world))` decides as `world` does.
 */
export function worldAnswers(world) {
  return {
    token(id) {
      const def = world.tokens.find((t) => t.id === id);
      // A stored digest the world reads as the one that matches nothing: through the record,
      // as the world answers it.
      return def && (wellFormed(def) ? def : tokenDefFromRecord(world.tokenRecord(id)));
    },
    user(name) {
      const u = world.user(name);
      return u && { status: u.status, site_admin: u.siteAdmin, visibility: u.visibility, organization: u.organization };
    },
    repository(path, viewer) {
      const found = world.findRepository(path, viewer);
      if (!found) return undefined;
      const f = found.facts;
      const r = { path: found.path, owner_visibility: f.ownerVisibility, private: f.private, kind: f.kind, archived: f.archived, role: f.role };
      if (f.protectedRefs) r.protected_refs = f.protectedRefs.map((p) => ({ pattern: p.pattern, push: witToAccess(p.push), force_push: witToAccess(p.forcePush) }));
      if (f.registrant !== undefined) r.registrant = f.registrant;
      if (f.ownerIpAllow.length > 0) r.owner_ip_allow = f.ownerIpAllow;
      return r;
    },
    namespace(name, viewer) {
      const n = world.namespace(name, viewer);
      if (!n) return n;
      const a = { organization: n.organization, visibility: n.visibility, member_role: n.memberRole };
      if (n.ipAllow.length > 0) a.ip_allow = n.ipAllow;
      return a;
    },
    sshKey: (id) => world.sshKeyDef(id),
    now: () => world.now(),
  };
}

// ---- every answer, checked before jco lowers it -----------------------------------------------

const ACCESS = ['writers', 'admins', 'nobody'];
const DIGESTS = ['hmac-tag', 'sha256'];
const timestamp = (v, path) => (typeof v === 'bigint' ? v : int64(v, path));
const word = (v, path) => (typeof v === 'bigint' && v >= 0n && v < 1n << 64n ? v : fail(path, 'expected a u64 BigInt'));

function checkAccess(v, path) {
  onlyFields(v, ['tag', 'val'], path);
  const tag = field(v, 'tag', path, oneOf([...ACCESS, 'users'], 'ref access'));
  if (tag === 'users') field(v, 'val', path, list(str));
  else if (v.val !== undefined) fail(path, `\`${tag}\` carries no value`);
}

function checkProtectedRef(v, path) {
  onlyFields(v, ['pattern', 'push', 'forcePush'], path);
  field(v, 'pattern', path, str);
  field(v, 'push', path, checkAccess);
  field(v, 'forcePush', path, checkAccess);
}

/** `UserFacts` in jco's shape. */
export function checkUserFacts(v, path) {
  onlyFields(v, ['status', 'siteAdmin', 'visibility', 'organization'], path);
  field(v, 'status', path, status);
  field(v, 'siteAdmin', path, bool);
  field(v, 'visibility', path, visibility);
  field(v, 'organization', path, bool);
}

/**
 * `v` with its IP allow list `k` (contract 0.6) checked; absent (a source written before
 * 0.6): a copy with none (`[]`), since jco lowers every field of a record.
 */
function withBlocks(v, k, path) {
  if (optField(v, k, path, list(str)) !== undefined) return v;
  return { ...v, [k]: NO_BLOCKS };
}

/** `RepositoryFacts` in jco's shape: the facts to lower (`ownerIpAllow` absent: none). */
export function checkRepositoryFacts(v, path) {
  onlyFields(v, ['ownerVisibility', 'private', 'kind', 'archived', 'role', 'protectedRefs', 'registrant', 'ownerIpAllow'], path);
  field(v, 'ownerVisibility', path, visibility);
  field(v, 'private', path, bool);
  field(v, 'kind', path, repoKind);
  field(v, 'archived', path, bool);
  field(v, 'role', path, role);
  optField(v, 'protectedRefs', path, list(checkProtectedRef));
  optField(v, 'registrant', path, str);
  return withBlocks(v, 'ownerIpAllow', path);
}

function checkNamespaceFacts(v, path) {
  onlyFields(v, ['organization', 'visibility', 'memberRole', 'ipAllow'], path);
  field(v, 'organization', path, bool);
  field(v, 'visibility', path, visibility);
  field(v, 'memberRole', path, role);
  return withBlocks(v, 'ipAllow', path);
}

function checkTokenFacts(v, path) {
  onlyFields(v, ['owner', 'scopes', 'binding', 'child', 'rotated', 'secret', 'lastUsed', 'expires', 'revoked', 'ipAllow'], path);
  field(v, 'owner', path, str);
  field(v, 'scopes', path, str);
  field(v, 'child', path, bool);
  field(v, 'rotated', path, bool);
  field(v, 'secret', path, (s, p) => {
    onlyFields(s, ['tag', 'val'], p);
    field(s, 'tag', p, oneOf(DIGESTS, 'digest'));
    field(s, 'val', p, (h, q) => {
      onlyFields(h, ['w0', 'w1', 'w2', 'w3'], q);
      for (const w of ['w0', 'w1', 'w2', 'w3']) field(h, w, q, word);
    });
  });
  optField(v, 'binding', path, (b, p) => {
    onlyFields(b, ['repositories', 'owners'], p);
    field(b, 'repositories', p, list(str));
    field(b, 'owners', p, list(str));
  });
  for (const k of ['lastUsed', 'expires', 'revoked']) optField(v, k, path, timestamp);
  return withBlocks(v, 'ipAllow', path);
}

/** `SshKey` in jco's shape. */
export function checkSshKey(v, path = 'ssh key') {
  onlyFields(v, ['id', 'kind', 'owner', 'repository', 'readOnly'], path);
  field(v, 'id', path, str);
  field(v, 'kind', path, oneOf(KEY_KIND, 'key kind'));
  field(v, 'owner', path, str);
  optField(v, 'repository', path, str);
  field(v, 'readOnly', path, bool);
}

/**
 * A `fact-answer` in jco's shape, checked as strictly as the boundary format (unknown fields,
 * wrong types, enum values the WIT does not have): throws `InputError` naming the field.
 * Returns the answer to lower (absent IP allow lists as none).
 */
export function checkFactAnswer(a, path = 'answer') {
  onlyFields(a, LOOKUP_KEYS, path);
  const out = { ...a };
  for (const k in a) {
    const v = a[k];
    if (v == null) continue;
    const p = `${path}.${k}`;
    if (k === 'token') out.token = checkTokenFacts(v, p);
    else if (k === 'repository') out.repository = checkRepositoryFacts(v, p);
    else if (k === 'namespace') out.namespace = checkNamespaceFacts(v, p);
    else checkUserFacts(v, p);
  }
  return out;
}

export { InputError };
