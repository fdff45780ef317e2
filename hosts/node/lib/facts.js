// Where the policy's facts come from: the host side of the `forge:authz/facts` import.
//
// During a decision the policy asks ONE `fact-query` (and, for a batch, one list of
// repositories). A fact source answers it. `composeFacts` builds `lookup` and
// `repositories` from per-fact functions exactly as hosts/README.md ("Facts") defines them
// (the same composition as fixture/src/facts.rs), so a forge only writes "a token by
// id", "a user by name", "a repository as this viewer sees it", "a namespace as this viewer
// sees it". A `World` is such a source over the fixture format (fixture/src/world.rs).
//
// Values are in jco's shapes (camelCase fields, `{tag, val}` variants, `undefined` for
// `none`); timestamps may be plain numbers (jco converts them to `s64`), the `hash256`
// words must be BigInts (`secretDigest()` builds them from hex).

import {
  InputError,
  asciiLower,
  bool,
  eqIgnoreAsciiCase,
  fail,
  field,
  hexDecode,
  hexEncode,
  hash256ToBytes,
  int64,
  list,
  map,
  oneOf,
  onlyFields,
  optField,
  parsed,
  secretDigest,
  str,
} from './util.js';
import { ROLES } from './vocabulary.js';

export { ROLES };
const rank = (r) => ROLES.indexOf(r);
/** The higher of two roles (`self` on a tie, as Rust's `max_with`). */
export const maxRole = (a, b) => (rank(b) > rank(a) ? b : a);

/** The owner-less viewer of a query: whose view repository and namespace facts describe. */
export function viewerName(query, tokenOwner) {
  switch (query.viewer) {
    case 'anonymous':
      return undefined;
    case 'token-owner':
      return tokenOwner;
    case 'account':
      return query.account;
    case 'sudo':
      return query.sudo;
    default:
      throw new TypeError(`unknown viewer ${String(query.viewer)}`);
  }
}

/**
 * A fact source from per-fact functions (each may return `undefined` for "no such fact" and
 * must THROW when it could not read: the decision then fails closed, `policy-failure`):
 *
 * - `token(id)` → `TokenFacts` (the stored record as a decision needs it; see
 *   `tokenFactsFromRecord`), by exact public id;
 * - `user(name)` → `UserFacts` (names compare ASCII-case-insensitively);
 * - `repository(path, viewer)` → `RepositoryFacts` (with `registrant` when the forge records
 *   one; it is passed on only when the query asks), `viewer` a login or `undefined`;
 * - `namespace(name, viewer)` → `NamespaceFacts`;
 * - `sshKey(id)` (optional) → `SshKey`, for requests that name an SSH key credential.
 *
 * The answers are checked before they are lowered (`checkFactAnswer`: unknown fields, wrong
 * types and enum values fail the decision). A function may also return a promise: the
 * composed `lookup` then returns one too, for `Policy.decideAsync`.
 */
export function composeFacts(source) {
  return composed(source, (_, v) => v ?? undefined);
}

/**
 * The composition behind `composeFacts` and `boundaryFacts`: `lookup` and `repositories`
 * asked of `source`'s per-fact functions, each answer passed through `convert(step, answer)`
 * (`step`: `[name, ...arguments]`). `ctx` (decideAsync's `{signal}`) is passed on as the
 * last argument when given.
 */
export function composed(source, convert) {
  const { token, user, repository, namespace } = source;
  for (const [n, f] of Object.entries({ token, user, repository, namespace })) {
    if (typeof f !== 'function') throw new TypeError(`composeFacts: \`${n}\` is not a function`);
  }
  const ask = (ctx) => (step) => {
    const f = source[step[0]];
    const raw = ctx === undefined ? f.call(source, step[1], step[2]) : f.apply(source, [...step.slice(1), ctx]);
    return isThenable(raw) ? Promise.resolve(raw).then((v) => convert(step, v)) : convert(step, raw);
  };
  const plainAsk = ask(undefined);
  const asker = (ctx) => (ctx === undefined ? plainAsk : ask(ctx));
  return {
    lookup: (query, ctx) => drive(lookupSteps(query), asker(ctx)),
    repositories: (paths, viewer, ctx) => drive(batchSteps(paths, viewer), asker(ctx)),
    sshKey: typeof source.sshKey === 'function' ? (id, ctx) => asker(ctx)(['sshKey', id]) : undefined,
  };
}

/**
 * Marks a fact source whose answers need no check before lowering: built by this package from
 * answers it already read strictly (`World`, `boundaryFacts`).
 */
export const CHECKED = Symbol('forge-authz: answers already checked');

/**
 * On a repository's facts: the path as the store spells it (`Alice/App` when `alice/app` was
 * asked), the directory a forge serves. A symbol: jco does not lower it.
 */
export const STORED_PATH = Symbol('forge-authz: the repository path as stored');

export const isThenable = (v) => v !== null && (typeof v === 'object' || typeof v === 'function') && typeof v.then === 'function';

/**
 * Run a composition (a generator yielding the per-fact questions) with `ask` answering
 * them: synchronously while the answers are values, as a promise from the first answer that
 * is one.
 */
export function drive(gen, ask) {
  let step = gen.next();
  while (!step.done) {
    const answer = ask(step.value);
    if (isThenable(answer)) return driveAsync(gen, answer, ask);
    step = gen.next(answer);
  }
  return step.value;
}

async function driveAsync(gen, pending, ask) {
  let step = gen.next(await pending);
  while (!step.done) step = gen.next(await ask(step.value));
  return step.value;
}

/** One query's facts from the per-fact questions, as hosts/README.md ("Facts") composes them. */
function* lookupSteps(query) {
  const tok = query.token === undefined ? undefined : yield ['token', query.token];
  const ownerName = tok?.owner;
  const answer = {};
  if (tok !== undefined) answer.token = tok;
  const owner = ownerName === undefined ? undefined : yield ['user', ownerName];
  if (owner !== undefined) answer.owner = owner;
  const account = query.account === undefined ? undefined : yield ['user', query.account];
  if (account !== undefined) answer.account = account;
  const sudo = query.sudo === undefined ? undefined : yield ['user', query.sudo];
  if (sudo !== undefined) answer.sudo = sudo;
  const viewer = viewerName(query, ownerName);
  const repo = query.repository === undefined ? undefined : yield ['repository', query.repository, viewer];
  if (repo !== undefined) answer.repository = withRegistrant(repo, query.registrant);
  const ns = query.namespace === undefined ? undefined : yield ['namespace', query.namespace, viewer];
  if (ns !== undefined) answer.namespace = ns;
  return answer;
}

function* batchSteps(paths, viewer) {
  const out = [];
  for (const p of paths) {
    const r = yield ['repository', p, viewer];
    out.push(r === undefined ? undefined : withRegistrant(r, false));
  }
  return out;
}

/** `facts`, marked `CHECKED`. */
export function checked(facts) {
  facts[CHECKED] = true;
  return facts;
}

export function withRegistrant(r, asked) {
  if (asked || r.registrant === undefined) return r;
  const { registrant: _, ...rest } = r;
  return rest;
}

/**
 * `token-facts` from a stored record (`lifecycle.token-record` as jco lifts it, or the same
 * shape from a store): scopes joined with `,`, binding `none` when both lists are empty,
 * `child` = has a parent, `rotated` = has a successor. `ipAllow`: the token's own IP allow
 * list, which the lifecycle's record does not carry (a store keeps it beside; none: `[]`).
 */
export function tokenFactsFromRecord(r, ipAllow = r.ipAllow ?? NO_BLOCKS) {
  const facts = {
    owner: r.owner,
    scopes: r.scopes.join(','),
    child: r.parent != null,
    rotated: r.successor != null,
    secret: r.secret,
    ipAllow,
  };
  if (r.repositories.length > 0 || r.owners.length > 0) {
    facts.binding = { repositories: r.repositories, owners: r.owners };
  }
  if (r.lastUsed != null) facts.lastUsed = r.lastUsed;
  if (r.expires != null) facts.expires = r.expires;
  if (r.revoked != null) facts.revoked = r.revoked;
  return facts;
}

// ---- the world fixture ---------------------------------------------------------------------

export const STATUS = ['active', 'inactive', 'suspended'];
/** An empty IP allow list (no restriction), shared: jco only reads it. */
export const NO_BLOCKS = Object.freeze([]);
export const VISIBILITY = ['public', 'limited', 'private'];
export const REPO_KIND = ['hosted', 'mirror', 'import'];
export const KEY_KIND = ['user', 'deploy'];
const DEFAULT_OPTIONS = Object.freeze({
  binding_fallback_to_anonymous: false,
  require_expiry: true,
  max_lifetime: 366 * 86400,
  min_lifetime: 300,
});
const ZERO_DIGEST = Object.freeze({ tag: 'sha256', val: Object.freeze({ w0: 0n, w1: 0n, w2: 0n, w3: 0n }) });

const role = oneOf(ROLES, 'role');

function readAccess(v, path) {
  if (typeof v === 'string') return oneOf(['writers', 'admins', 'nobody'], 'ref access')(v, path);
  onlyFields(v, ['users'], path);
  return { users: field(v, 'users', path, list(str)) };
}

function readUser(v, path) {
  onlyFields(v, ['name', 'status', 'site_admin', 'visibility', 'organization', 'members', 'ip_allow'], path);
  return {
    name: field(v, 'name', path, str),
    status: field(v, 'status', path, oneOf(STATUS, 'status'), 'active'),
    site_admin: field(v, 'site_admin', path, bool, false),
    visibility: field(v, 'visibility', path, oneOf(VISIBILITY, 'visibility'), 'public'),
    organization: field(v, 'organization', path, bool, false),
    members: field(v, 'members', path, map(role), () => []),
    ip_allow: field(v, 'ip_allow', path, list(str), () => []),
  };
}

/** A protected ref in the fixture format (`ProtectedRefDef`). */
export function readProtectedRef(v, path) {
  onlyFields(v, ['pattern', 'push', 'force_push'], path);
  return {
    pattern: field(v, 'pattern', path, str),
    push: field(v, 'push', path, readAccess, 'writers'),
    force_push: field(v, 'force_push', path, readAccess, 'nobody'),
  };
}

function readRepo(v, path) {
  onlyFields(v, ['owner', 'name', 'private', 'kind', 'archived', 'collaborators', 'protected_refs', 'registrant'], path);
  const r = {
    owner: field(v, 'owner', path, str),
    name: field(v, 'name', path, str),
    private: field(v, 'private', path, bool, false),
    kind: field(v, 'kind', path, oneOf(REPO_KIND, 'repository kind'), 'hosted'),
    archived: field(v, 'archived', path, bool, false),
    collaborators: field(v, 'collaborators', path, map(role), () => []),
    protected_refs: field(v, 'protected_refs', path, list(readProtectedRef), () => []),
    registrant: optField(v, 'registrant', path, str),
  };
  // As RepoDef::validate: names the host cannot serve faithfully, and patterns the policy
  // would treat as matching every ref.
  if (asciiLower(r.name).endsWith('.git')) fail(path, `repository \`${r.owner}/${r.name}\`: a name may not end in \`.git\``);
  for (const p of r.protected_refs) {
    // eslint-disable-next-line no-control-regex
    if (p.pattern === '' || /[\x00-\x20\x7f?[\]{}\\!^~:]/.test(p.pattern)) {
      fail(path, `repository \`${r.owner}/${r.name}\`: protected-ref pattern \`${p.pattern}\` uses syntax other than \`*\` and \`**\``);
    }
  }
  return r;
}

const TOKEN_FIELDS = ['id', 'owner', 'name', 'scopes', 'repositories', 'owners', 'parent', 'predecessor', 'successor', 'last_used', 'created', 'expires', 'revoked', 'secret_hash', 'digest', 'ip_allow'];
const strings = list(str);
const none = () => [];

/** A token record in the fixture format (`TokenDef`). */
export function readTokenDef(v, path = '') {
  onlyFields(v, TOKEN_FIELDS, path);
  const t = {
    id: field(v, 'id', path, str),
    owner: field(v, 'owner', path, str),
    name: field(v, 'name', path, str),
    scopes: field(v, 'scopes', path, strings),
    repositories: field(v, 'repositories', path, strings, none),
    owners: field(v, 'owners', path, strings, none),
  };
  // As the Rust host writes a TokenDef: absent links and last use left out, expiry and
  // revocation always present (`null` for none).
  for (const k of ['parent', 'predecessor', 'successor']) {
    const x = optField(v, k, path, str);
    if (x !== undefined) t[k] = x;
  }
  const lastUsed = optField(v, 'last_used', path, int64);
  if (lastUsed !== undefined) t.last_used = lastUsed;
  t.created = field(v, 'created', path, int64);
  t.expires = optField(v, 'expires', path, int64) ?? null;
  t.revoked = optField(v, 'revoked', path, int64) ?? null;
  t.secret_hash = field(v, 'secret_hash', path, str);
  t.digest = field(v, 'digest', path, str, 'sha256');
  // The token's own IP allow list (contract 0.6): left out when empty, as the Rust host writes it.
  const ipAllow = field(v, 'ip_allow', path, strings, none);
  if (ipAllow.length > 0) t.ip_allow = ipAllow;
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(t.secret_hash)) fail(path, `token \`${t.id}\`: secret_hash is not hex`);
  return t;
}

/** An SSH key in the fixture format (`SshKeyDef`). */
export function readSshKey(v, path = '') {
  onlyFields(v, ['id', 'kind', 'owner', 'repository', 'read_only', 'public_key'], path);
  const k = {
    id: field(v, 'id', path, str),
    kind: field(v, 'kind', path, oneOf(KEY_KIND, 'key kind')),
    owner: field(v, 'owner', path, str, ''),
    repository: optField(v, 'repository', path, str),
    read_only: field(v, 'read_only', path, bool, false),
  };
  if (!((k.kind === 'user' && k.owner !== '') || (k.kind === 'deploy' && k.repository !== undefined))) {
    fail(path, `ssh key \`${k.id}\`: a user key needs an owner, a deploy key a repository`);
  }
  return k;
}

function readKey(v, path) {
  onlyFields(v, ['id', 'secret'], path);
  const k = { id: field(v, 'id', path, str), secret: field(v, 'secret', path, str) };
  if (hexDecode(k.secret) === null) fail(path, `key \`${k.id}\`: secret is not hex`);
  return k;
}

function readOptions(v, path) {
  onlyFields(v, Object.keys(DEFAULT_OPTIONS), path);
  return {
    binding_fallback_to_anonymous: field(v, 'binding_fallback_to_anonymous', path, bool, false),
    require_expiry: field(v, 'require_expiry', path, bool, true),
    max_lifetime: field(v, 'max_lifetime', path, int64, DEFAULT_OPTIONS.max_lifetime),
    min_lifetime: field(v, 'min_lifetime', path, int64, DEFAULT_OPTIONS.min_lifetime),
  };
}

/**
 * The policy configuration (`config` as jco lowers it) from the fixture's fields: `keys`
 * (secrets in hex), `signing_key` and `options` — what `fa_policy_new` takes, and what every
 * world and expanded-corpus file carries.
 */
export function configFromJson(input) {
  const v = parsed(input, 'config');
  if (v === null || typeof v !== 'object') fail('', 'config: expected an object');
  const keys = field(v, 'keys', '', list(readKey));
  const signingKey = field(v, 'signing_key', '', str);
  const options = field(v, 'options', '', readOptions, () => ({ ...DEFAULT_OPTIONS }));
  // A site policy's data (contract 0.6: JSON text, "" none); the core ignores it.
  const site = field(v, 'site', '', str, '');
  return {
    keys: keys.map((k) => ({ id: k.id, secret: hexDecode(k.secret) })),
    signingKeyId: signingKey,
    site,
    options: {
      bindingFallbackToAnonymous: options.binding_fallback_to_anonymous,
      requireExpiry: options.require_expiry,
      maxLifetime: BigInt(options.max_lifetime),
      minLifetime: BigInt(options.min_lifetime),
    },
  };
}

// Digests by their stored spelling (the record's other fields are read on every lookup).
const digests = new Map();
function digestOf(kind, hex) {
  const key = `${kind}:${hex}`;
  let d = digests.get(key);
  if (d === undefined) {
    // A malformed digest matches nothing (no secret has an all-zero SHA-256): the token
    // is refused as unknown.
    const fresh = secretDigest(kind, hex);
    d = fresh ? Object.freeze({ tag: fresh.tag, val: Object.freeze(fresh.val) }) : ZERO_DIGEST;
    if (digests.size >= 4096) digests.clear();
    digests.set(key, d);
  }
  return d;
}

/** A token record (`lifecycle.token-record`) from a fixture `TokenDef`. */
export function recordFromTokenDef(t) {
  const r = {
    id: t.id,
    owner: t.owner,
    name: t.name,
    scopes: t.scopes,
    repositories: t.repositories,
    owners: t.owners,
    created: t.created,
    secret: digestOf(t.digest, t.secret_hash),
  };
  for (const k of ['parent', 'predecessor', 'successor']) if (t[k] != null) r[k] = t[k];
  if (t.last_used != null) r.lastUsed = t.last_used;
  if (t.expires != null) r.expires = t.expires;
  if (t.revoked != null) r.revoked = t.revoked;
  return r;
}

/** A fixture `TokenDef` (plain JSON, hex digest) from a token record the policy returned. */
export function tokenDefFromRecord(r) {
  const num = (x) => (x == null ? null : Number(x));
  const def = {
    id: r.id,
    owner: r.owner,
    name: r.name,
    scopes: [...r.scopes],
    repositories: [...r.repositories],
    owners: [...r.owners],
  };
  for (const k of ['parent', 'predecessor', 'successor']) if (r[k] != null) def[k] = r[k];
  if (r.lastUsed != null) def.last_used = Number(r.lastUsed);
  def.created = Number(r.created);
  def.expires = num(r.expires);
  def.revoked = num(r.revoked);
  def.secret_hash = hexEncode(hash256ToBytes(r.secret.val));
  def.digest = r.secret.tag;
  return def;
}

/**
 * A world in the fixture format (README, "World fixture"): users, repositories, token
 * records and SSH keys, and the policy's keys and options. A fact source.
 */
export class World {
  /** @param input the fixture, as JSON text or a parsed object */
  constructor(input) {
    const v = parsed(input, 'world');
    const path = '';
    onlyFields(v, ['now', 'keys', 'signing_key', 'users', 'repositories', 'tokens', 'ssh_keys', 'options'], path);
    this.fixedNow = optField(v, 'now', path, int64);
    this.keys = field(v, 'keys', path, list(readKey));
    this.signingKey = field(v, 'signing_key', path, str);
    this.users = field(v, 'users', path, list(readUser), () => []);
    this.repos = field(v, 'repositories', path, list(readRepo), () => []);
    this.tokens = field(v, 'tokens', path, list(readTokenDef), () => []);
    this.sshKeys = field(v, 'ssh_keys', path, list(readSshKey), () => []);
    this.options = field(v, 'options', path, readOptions, () => ({ ...DEFAULT_OPTIONS }));
  }

  /** Read a world, as a value: `{ok: true, value: World}` or `{ok: false, error}`. */
  static from(input) {
    try {
      return { ok: true, value: new World(input) };
    } catch (e) {
      if (e instanceof InputError) return { ok: false, error: { tag: 'invalid-input', val: e.message } };
      throw e;
    }
  }

  /** The world's fixed clock, else the system clock (Unix seconds). */
  now() {
    return this.fixedNow ?? Math.floor(Date.now() / 1000);
  }

  /** The policy configuration: keys, signing key id, options. */
  config() {
    return configFromJson({ keys: this.keys, signing_key: this.signingKey, options: this.options });
  }

  #userDef(name) {
    return this.users.find((u) => eqIgnoreAsciiCase(u.name, name));
  }

  user(name) {
    const u = this.#userDef(name);
    return u && { status: u.status, siteAdmin: u.site_admin, visibility: u.visibility, organization: u.organization };
  }

  /** `actor`'s role in organisation `org` (none for users and non-members). */
  #memberRole(org, actor) {
    const o = this.users.find((u) => u.organization && eqIgnoreAsciiCase(u.name, org));
    const m = o?.members.find(([name]) => eqIgnoreAsciiCase(name, actor));
    return m ? m[1] : 'none';
  }

  /** Repository facts and the path as stored: `{path, facts}`, or undefined. */
  findRepository(path, viewer) {
    const slash = path.indexOf('/');
    if (slash < 0) return undefined;
    const owner = path.slice(0, slash);
    const name = path.slice(slash + 1);
    const r = this.repos.find((x) => eqIgnoreAsciiCase(x.owner, owner) && eqIgnoreAsciiCase(x.name, name));
    if (!r) return undefined;
    let role = 'none';
    if (viewer !== undefined) {
      const c = r.collaborators.find(([user]) => eqIgnoreAsciiCase(user, viewer));
      role = maxRole(c ? c[1] : 'none', this.#memberRole(r.owner, viewer));
    }
    const ownerDef = this.#userDef(r.owner);
    const facts = {
      // An owner missing from `users` is an unknown fact: treated as private.
      ownerVisibility: ownerDef?.visibility ?? 'private',
      private: r.private,
      kind: r.kind,
      archived: r.archived,
      role,
      ownerIpAllow: ownerDef?.ip_allow ?? NO_BLOCKS,
    };
    if (r.registrant !== undefined) facts.registrant = r.registrant;
    facts[STORED_PATH] = `${r.owner}/${r.name}`;
    if (r.protected_refs.length > 0) {
      facts.protectedRefs = r.protected_refs.map((p) => ({
        pattern: p.pattern,
        push: accessToWit(p.push),
        forcePush: accessToWit(p.force_push),
      }));
    }
    return { path: `${r.owner}/${r.name}`, facts };
  }

  repository(path, viewer) {
    return this.findRepository(path, viewer)?.facts;
  }

  namespace(name, viewer) {
    const u = this.#userDef(name);
    if (!u) return undefined;
    let memberRole;
    if (viewer === undefined) memberRole = 'none';
    else if (!u.organization && eqIgnoreAsciiCase(u.name, viewer)) memberRole = 'admin';
    else memberRole = this.#memberRole(u.name, viewer);
    return { organization: u.organization, visibility: u.visibility, memberRole, ipAllow: u.ip_allow };
  }

  /** The stored SSH key (`SshKeyDef`, as read) of an id. */
  sshKeyDef(id) {
    return this.sshKeys.find((x) => x.id === id);
  }

  sshKey(id) {
    const k = this.sshKeyDef(id);
    return k && sshKeyFromDef(k);
  }

  /** The stored record of a token id, as the WIT `token-record`. */
  tokenRecord(id) {
    const t = this.tokens.find((x) => x.id === id);
    return t && recordFromTokenDef(t);
  }

  token(id) {
    const t = this.tokens.find((x) => x.id === id);
    return t && tokenFactsFromRecord(recordFromTokenDef(t), t.ip_allow ?? NO_BLOCKS);
  }

  /** Add (or replace, by id) a token record: a fixture `TokenDef`. */
  putToken(def) {
    const t = readTokenDef(parsed(def, 'token'), '');
    const i = this.tokens.findIndex((x) => x.id === t.id);
    if (i >= 0) this.tokens[i] = t;
    else this.tokens.push(t);
  }

  lookup(query) {
    return this.#composed().lookup(query);
  }

  repositories(paths, viewer) {
    return this.#composed().repositories(paths, viewer);
  }

  #facts;
  #composed() {
    this.#facts ??= checked(composeFacts({
      token: (id) => this.token(id),
      user: (n) => this.user(n),
      repository: (p, v) => this.repository(p, v),
      namespace: (n, v) => this.namespace(n, v),
      sshKey: (id) => this.sshKey(id),
    }));
    return this.#facts;
  }
}

/** The policy's `SshKey` from a fixture `SshKeyDef`. */
export function sshKeyFromDef(k) {
  const key = { id: k.id, kind: k.kind, owner: k.owner, readOnly: k.read_only };
  if (k.repository !== undefined) key.repository = k.repository;
  return key;
}

export function accessToWit(a) {
  return typeof a === 'string' ? { tag: a } : { tag: 'users', val: a.users };
}
