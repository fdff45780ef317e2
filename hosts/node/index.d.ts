// Types of forge-authz for Node (hand-written; they follow wit/*.wit, forge:authz@0.6.0, in
// the shapes jco gives the contract: records as objects with camelCase fields, `option<T>`
// as `T | undefined`, enums as their kebab-case strings, variants as `{tag, val}`, flags as
// objects of booleans, `s64` as numbers (BigInts accepted), `u64` as BigInts).

// ---- results -------------------------------------------------------------------------------

/** A host-side error: the input was unreadable, the policy could not run, a module was refused. */
export interface HostError {
  tag: 'invalid-input' | 'policy-failure' | 'module-refused';
  val: string;
}
export type Result<T, E = never> = { ok: true; value: T } | { ok: false; error: E | HostError };

// ---- facts (forge:authz/facts) -------------------------------------------------------------

/** Seconds since the Unix epoch. Returned as numbers; numbers or BigInts are accepted. */
export type Timestamp = number | bigint;
export type AccountStatus = 'active' | 'inactive' | 'suspended';
export type Visibility = 'public' | 'limited' | 'private';
export type RepositoryKind = 'hosted' | 'mirror' | 'import';
export type Role = 'none' | 'read' | 'write' | 'admin';
export type Viewer = 'anonymous' | 'token-owner' | 'account' | 'sudo';
export type RefAccess = { tag: 'writers' } | { tag: 'admins' } | { tag: 'nobody' } | { tag: 'users'; val: string[] };
export interface ProtectedRef {
  pattern: string;
  push: RefAccess;
  forcePush: RefAccess;
}
export interface UserFacts {
  status: AccountStatus;
  siteAdmin: boolean;
  visibility: Visibility;
  organization: boolean;
}
export interface RepositoryFacts {
  ownerVisibility: Visibility;
  private: boolean;
  kind: RepositoryKind;
  archived: boolean;
  role: Role;
  registrant?: string;
  protectedRefs?: ProtectedRef[];
  /** The owner's IP allow list (CIDR blocks; absent or empty: no restriction). Contract 0.6. */
  ownerIpAllow?: string[];
}
export interface NamespaceFacts {
  organization: boolean;
  visibility: Visibility;
  memberRole: Role;
  /** The account's IP allow list (CIDR blocks; absent or empty: no restriction). Contract 0.6. */
  ipAllow?: string[];
}
/** Four big-endian 64-bit words of a 32-byte hash (BigInts: they do not fit a double). */
export interface Hash256 {
  w0: bigint;
  w1: bigint;
  w2: bigint;
  w3: bigint;
}
export type SecretDigest = { tag: 'hmac-tag'; val: Hash256 } | { tag: 'sha256'; val: Hash256 };
export interface TokenBinding {
  repositories: string[];
  owners: string[];
}
export interface TokenFacts {
  owner: string;
  scopes: string;
  binding?: TokenBinding;
  child: boolean;
  rotated: boolean;
  lastUsed?: Timestamp;
  expires?: Timestamp;
  revoked?: Timestamp;
  secret: SecretDigest;
  /** The token's own IP allow list (CIDR blocks; absent or empty: no restriction). Contract 0.6. */
  ipAllow?: string[];
}
export interface FactQuery {
  token?: string;
  account?: string;
  sudo?: string;
  repository?: string;
  namespace?: string;
  viewer: Viewer;
  registrant: boolean;
}
export interface FactAnswer {
  token?: TokenFacts;
  owner?: UserFacts;
  account?: UserFacts;
  sudo?: UserFacts;
  repository?: RepositoryFacts;
  namespace?: NamespaceFacts;
}
export type KeyKind = 'user' | 'deploy';
export interface SshKey {
  id: string;
  kind: KeyKind;
  owner: string;
  repository?: string;
  readOnly: boolean;
}

/**
 * What the policy asks the host, once per decision (the `facts` import). Answer `undefined`
 * (or leave the field out) for a fact that does not exist; THROW when it could not be read:
 * the decision is then a `policy-failure` deny, never a guess.
 */
export interface FactSource {
  lookup(query: FactQuery): FactAnswer;
  repositories(paths: string[], viewer: string | undefined): (RepositoryFacts | undefined)[];
  /** Requests that name an SSH key credential (`{"ssh-key": id}`) resolve it here. */
  sshKey?(id: string): SshKey | undefined;
  /** The clock of decisions made with this source (default: the system clock). */
  now?(): number;
}
/** What `decideAsync` passes as the last argument of every read: abort it when `signal` fires (the budget ran out). */
export interface ReadContext {
  signal: AbortSignal;
}
/** The same, over a store whose reads are asynchronous (`Policy.decideAsync`). */
export interface AsyncFactSource {
  lookup(query: FactQuery, ctx?: ReadContext): FactAnswer | Promise<FactAnswer>;
  repositories(paths: string[], viewer: string | undefined, ctx?: ReadContext): (RepositoryFacts | undefined)[] | Promise<(RepositoryFacts | undefined)[]>;
  sshKey?(id: string, ctx?: ReadContext): SshKey | undefined | Promise<SshKey | undefined>;
  now?(): number;
}
type Maybe<T> = T | undefined | null;
type Answer<T> = Maybe<T> | Promise<Maybe<T>>;
/**
 * The per-fact functions `composeFacts` builds a `FactSource` from (hosts/README.md rules).
 * With `policy.decide` they answer synchronously; with `decideAsync` they may return promises.
 */
export interface FactFunctions {
  token(id: string, ctx?: ReadContext): Answer<TokenFacts>;
  user(name: string, ctx?: ReadContext): Answer<UserFacts>;
  repository(path: string, viewer: string | undefined, ctx?: ReadContext): Answer<RepositoryFacts>;
  namespace(name: string, viewer: string | undefined, ctx?: ReadContext): Answer<NamespaceFacts>;
  sshKey?(id: string, ctx?: ReadContext): Answer<SshKey>;
}
export function composeFacts(source: FactFunctions): FactSource & AsyncFactSource;

// ---- the boundary format (docs/design/fact-sources.md §1): the same JSON in every host ----------

/** A user's facts: every field required. */
export interface UserAnswer {
  status: AccountStatus;
  site_admin: boolean;
  visibility: Visibility;
  organization: boolean;
}
export type AccessJson = 'writers' | 'admins' | 'nobody' | { users: string[] };
export interface ProtectedRefJson {
  pattern: string;
  push?: AccessJson;
  force_push?: AccessJson;
}
/** A repository as the viewer sees it; `path`, when given, must be the asked path (ASCII case-insensitively). */
export interface RepositoryAnswer {
  path?: string;
  owner_visibility: Visibility;
  private: boolean;
  kind: RepositoryKind;
  archived: boolean;
  role: Role;
  protected_refs?: ProtectedRefJson[];
  registrant?: string;
}
export interface NamespaceAnswer {
  organization: boolean;
  visibility: Visibility;
  member_role: Role;
}
/** An SSH key (`id` the asked id): a user key names its owner, a deploy key its repository. */
export interface SshKeyDef {
  id: string;
  kind: KeyKind;
  owner?: string;
  repository?: string;
  read_only?: boolean;
  public_key?: string;
}
/** §1's query JSON: all seven keys, `null` for none (what `lookup` gets and `observe` is told). */
export interface QueryJson {
  token: string | null;
  account: string | null;
  sudo: string | null;
  repository: string | null;
  namespace: string | null;
  viewer: Viewer;
  registrant: boolean;
}
/** The `lookup` override's answer: all six keys, `null` for a fact that does not exist or was not asked. */
export interface LookupAnswer {
  token: TokenDef | null;
  owner: UserAnswer | null;
  account: UserAnswer | null;
  sudo: UserAnswer | null;
  repository: RepositoryAnswer | null;
  namespace: NamespaceAnswer | null;
}
/**
 * A forge's per-fact functions in the boundary format. `undefined`/`null`: no such fact; a
 * throw, a rejection or a malformed answer: the policy-failure deny (503). Promises with
 * `decideAsync` only (which passes `{signal}` last).
 */
export interface BoundaryFunctions {
  token(id: string, ctx?: ReadContext): Answer<TokenDef>;
  user(name: string, ctx?: ReadContext): Answer<UserAnswer>;
  repository(path: string, viewer: string | undefined, ctx?: ReadContext): Answer<RepositoryAnswer>;
  namespace(name: string, viewer: string | undefined, ctx?: ReadContext): Answer<NamespaceAnswer>;
  sshKey?(id: string, ctx?: ReadContext): Answer<SshKeyDef>;
  /** Optional: one answer (or `null`) per path, in order. */
  repositories?(paths: string[], viewer: string | undefined, ctx?: ReadContext): (Maybe<RepositoryAnswer>)[] | Promise<(Maybe<RepositoryAnswer>)[]>;
  /** Optional: the whole query at once. */
  lookup?(query: QueryJson, ctx?: ReadContext): LookupAnswer | Promise<LookupAnswer>;
  now?(): number;
}
export function boundaryFacts(source: BoundaryFunctions): FactSource & AsyncFactSource;
export function queryJson(query: FactQuery): QueryJson;
/** The default time budget of one decision's reads (ms). */
export const DEFAULT_BUDGET_MS: 250;
export interface DecideOptions {
  /** The clock (Unix seconds); a request's own `now` still wins. */
  now?: number;
  /** Told each query before it is answered: `{"lookup": QueryJson}` or `{"repositories": {"paths", "viewer"}}` as JSON text. */
  observe?: (askedJson: string) => void;
  /** Wall time all reads of one decision may take (default 250): a late answer fails, even a good one. */
  budgetMs?: number;
}
export function viewerName(query: FactQuery, tokenOwner: string | undefined): string | undefined;
export function tokenFactsFromRecord(record: TokenRecord): TokenFacts;

// ---- the JSON formats (README: world fixture, requests, decisions) -------------------------

/** A token record in the world fixture's format. */
export interface TokenDef {
  id: string;
  owner: string;
  name: string;
  scopes: string[];
  repositories?: string[];
  owners?: string[];
  parent?: string;
  predecessor?: string;
  successor?: string;
  last_used?: number;
  created: number;
  expires?: number | null;
  revoked?: number | null;
  secret_hash: string;
  digest?: 'hmac-tag' | 'sha256';
}
/** `{keys: [{id, secret: <hex>}], signing_key, options?}`: a world fixture has these fields. */
export interface ConfigJson {
  keys: { id: string; secret: string }[];
  signing_key: string;
  options?: {
    binding_fallback_to_anonymous?: boolean;
    require_expiry?: boolean;
    max_lifetime?: number;
    min_lifetime?: number;
  };
  [other: string]: unknown;
}
export function configFromJson(input: ConfigJson | string): Config;
export function recordFromTokenDef(def: TokenDef): TokenRecord;
export function tokenDefFromRecord(record: TokenRecord): TokenDef;

/** A world fixture (users, repositories, token records, SSH keys, keys): a fact source. */
export class World implements FactSource {
  constructor(fixture: object | string);
  static from(fixture: object | string): Result<World>;
  now(): number;
  config(): Config;
  user(name: string): UserFacts | undefined;
  repository(path: string, viewer: string | undefined): RepositoryFacts | undefined;
  /** Repository facts with the path as stored (`Owner/Name`). */
  findRepository(path: string, viewer: string | undefined): { path: string; facts: RepositoryFacts } | undefined;
  namespace(name: string, viewer: string | undefined): NamespaceFacts | undefined;
  sshKey(id: string): SshKey | undefined;
  token(id: string): TokenFacts | undefined;
  tokenRecord(id: string): TokenRecord | undefined;
  putToken(def: TokenDef | string): void;
  lookup(query: FactQuery): FactAnswer;
  repositories(paths: string[], viewer: string | undefined): (RepositoryFacts | undefined)[];
  tokens: TokenDef[];
}

export type CredentialJson =
  | 'anonymous'
  | { bearer: string }
  | { basic: { username: string; password: string } }
  | { session: string }
  | { 'ssh-key': string };

/** A request in the `forge-authz decide` format. */
export interface RequestJson {
  credential?: CredentialJson;
  also_presented?: string[];
  /** The client's address (`192.0.2.7`), checked against IP allow lists; absent: unknown. */
  client_address?: string;
  kind?: 'git' | 'create' | 'api' | 'batch' | 'ref-permissions';
  transport?: 'http' | 'ssh';
  repository?: string;
  action?: 'pull' | 'push';
  refs?: { name: string; old?: string; new?: string; force?: boolean }[];
  ref_names?: string[];
  repositories?: string[];
  step?: 'push-to-create' | 'confirm' | 'abort';
  method?: string;
  categories?: string[];
  namespace?: string;
  requires_auth?: boolean;
  admin_only?: boolean;
  required_role?: Role;
  operation?: PrivilegedOperation;
  sudo?: string;
  package?: boolean;
  now?: number;
  explain?: boolean;
}

/** One decision as `forge-authz decide` prints it. */
export interface DecisionJson {
  decision: 'allow' | 'deny';
  status: 200 | 400 | 401 | 403 | 404 | 503;
  reason: string;
  message?: string;
  detail?: string;
  refs?: { name: string; decision: 'allow' | 'deny'; reason: string; message: string }[];
  trace?: { rule: Rule; outcome: TraceOutcome; detail: string }[];
}
export type OutputJson = DecisionJson | (DecisionJson & { repository: string })[] | Record<string, ('create' | 'push' | 'force-push')[]>;

export interface Decided {
  ok: true;
  /** Exactly what `forge-authz decide` prints for the request. */
  value: OutputJson;
  /** Whether the request may proceed (a batch: some target; ref permissions: some permission). */
  allow: boolean;
  /** Store writes asked for the presented token (single decisions). */
  effects?: Effects;
  /** The presented token's id, when there are effects to apply to it. */
  token?: string;
  /** The acting user (the token's owner as its record names it, or the session's/key's account). */
  user?: string;
  /** The repository's path as the fact source spells it (what to serve), when it answered one. */
  repository?: string;
}

// ---- the policy ------------------------------------------------------------------------------

export interface LoadOptions {
  /** The component's bytes or a compiled module (default: generated/, checked, else `cargo policy`'s build). */
  module?: Uint8Array | PolicyModule;
  config: ConfigJson | Config | string;
  /** Where prebuilt transpiles are looked for (`null`: always transpile). */
  prebuiltDir?: string | null;
  /** Which signatures make module bytes live (default: none, only the built-in module). */
  trust?: TrustOptions;
  /** `module`'s minisign signature (the `.minisig` text). */
  signature?: string | Uint8Array;
}

/**
 * Module trust (lib/trust.js): module bytes serve only with a minisign signature by one of
 * `publicKeys` (the `.pub` text) whose trusted comment is `forge-authz-module
 * contract=<CONTRACT_VERSION> version=<u64> sha256=<hex>`, a version not below the highest
 * the policy accepted, and a key not in `retiredKeyIds` (minisign's key ids, hex).
 * `allowUnsigned` (development): unsigned modules serve too, shown by `moduleTrust` and a
 * process warning (`FORGE_AUTHZ_UNSIGNED_MODULE`).
 */
export interface TrustOptions {
  publicKeys?: string[];
  retiredKeyIds?: string[];
  allowUnsigned?: boolean;
}

/** Why a module's trust refused it (the `module-refused` message: `policy module refused: untrusted module: <code>: …`). */
export type TrustRefusal = 'unsigned' | 'bad-signature' | 'untrusted-key' | 'retired-key' | 'wrong-contract' | 'replayed-older' | 'statement-mismatch';

/** How the serving module was trusted. */
export interface ModuleTrust {
  module: 'built-in' | 'signed' | 'unsigned';
  /** The signed statement's version (`signed` only). */
  version: bigint | null;
  /** The minisign key id that signed it (`signed` only). */
  keyId: string | null;
  allowUnsigned: boolean;
  /** The highest signed version this policy accepted: a lower one is refused as `replayed`. */
  highestVersion: bigint;
}

export class TrustRefused extends Error {
  readonly code: TrustRefusal;
}
export interface Trust {
  readonly keys: ReadonlyMap<string, unknown>;
  readonly retired: ReadonlySet<string>;
  readonly allowUnsigned: boolean;
}
export function readTrust(options?: TrustOptions): Trust;
export function parsePublicKey(text: string): { id: string; key: unknown };
/** Throws `TrustRefused`; `{signed: false}` only for an unsigned module `trust` allows. */
export function verifyModule(
  bytes: Uint8Array,
  signature: string | Uint8Array | undefined,
  trust: Trust,
  floor?: bigint,
): { signed: true; version: bigint; keyId: string; sha256: string } | { signed: false };

export class Policy {
  /** Load, configure and check a module (known answers) before it serves. */
  static load(options: LoadOptions): Promise<Result<Policy>>;
  readonly sha256: string;
  readonly origin: 'prebuilt' | 'transpiled';
  /** How the serving module was trusted (built-in, signed with its version, or unsigned). */
  readonly moduleTrust: ModuleTrust;
  /**
   * Hot swap: the new version serves only once its signature is verified (`signature`, unless
   * `trust.allowUnsigned`) and it loads, accepts the keys and answers right.
   */
  swap(
    module: Uint8Array | PolicyModule,
    options?: { prebuiltDir?: string | null; signature?: string | Uint8Array },
  ): Promise<Result<{ sha256: string; previous: string }>>;
  close(): void;

  decide(facts: FactSource, request: RequestJson | string, options?: DecideOptions): Decided | { ok: false; error: HostError };
  decideAsync(facts: AsyncFactSource, request: RequestJson | string, options?: DecideOptions): Promise<Decided | { ok: false; error: HostError }>;
  /** `fa_verify`'s format: `{token_id, key_id}`, `{token_error}` or `null`. */
  verify(credential: CredentialJson | string): Result<{ token_id: string; key_id: string } | { token_error: TokenError } | null>;
  /** `fa_issue`'s format: mint as the owner's session and add the record to `world`. */
  mint(
    world: World,
    mint: { owner: string; name: string; scopes: string[]; repositories?: string[]; owners?: string[]; expires?: number; expires_in?: number; now?: number } | string,
  ): Result<{ secret: string; record: TokenDef }, IssueError>;

  authorize(request: AuthorizeRequest, facts: FactSource, options?: Pick<DecideOptions, 'observe' | 'budgetMs'>): Result<Decision>;
  authorizeBatch(request: BatchRequest, facts: FactSource, options?: Pick<DecideOptions, 'observe' | 'budgetMs'>): Result<Decision[]>;
  refPermissions(request: RefPermissionsRequest, facts: FactSource, options?: Pick<DecideOptions, 'observe' | 'budgetMs'>): Result<RefGrants>;
  verifyCredential(credential: Credential): Result<VerifiedToken | undefined, TokenError>;
  issue(request: IssueRequest): Result<IssuedToken, IssueError>;
  deriveChild(request: ChildRequest): Result<ChildOutcome, LifecycleError>;
  rotate(request: RotateRequest): Result<Rotation, LifecycleError>;
  planRevoke(tokenId: string, scope: RevokeScope, records: TokenRecord[], context: ChangeContext): Result<ChangePlan, LifecycleError>;
  planEdit(tokenId: string, edit: TokenEdit, records: TokenRecord[], context: ChangeContext): Result<ChangePlan, LifecycleError>;
  planExpire(entries: AuditEntry[], context: ChangeContext): Result<HistoryEvent[]>;
  audit(entries: AuditEntry[], context: ChangeContext): Result<AuditFinding[]>;
  inspect(secret: string): Result<TokenInfo, TokenError>;
  normalizeScopes(scopes: string[]): Result<string[], ScopeError>;
  migrateLegacyScopes(scopes: string[]): Result<string[]>;
}
export function describeVariant(v: string | { tag: string; val?: unknown }): string;

// ---- request, credential, decision ---------------------------------------------------------

export type Transport = 'http' | 'ssh';
export type Credential =
  | { tag: 'anonymous' }
  | { tag: 'bearer'; val: string }
  | { tag: 'basic'; val: { username: string; password: string } }
  | { tag: 'ssh-key'; val: SshKey }
  | { tag: 'session'; val: string };
export type TokenError =
  | 'empty'
  | 'wrong-prefix'
  | 'wrong-length'
  | 'bad-separator'
  | 'bad-key-id'
  | 'bad-encoding'
  | 'bad-checksum'
  | 'unknown-key'
  | 'bad-signature';
export interface VerifiedToken {
  tokenId: string;
  keyId: string;
}
export type TokenInfo = VerifiedToken;
export type GitAction = 'pull' | 'push';
export interface RefUpdate {
  name: string;
  change: 'create' | 'update' | 'delete';
  force: boolean;
}
export type PrivilegedOperation =
  | 'repository-settings'
  | 'delete-repository'
  | 'transfer-repository'
  | 'convert-mirror'
  | 'generate-from-template'
  | 'create-for-other-owner'
  | 'view-admin-details'
  | 'moderate';
export type HttpMethod =
  | { tag: 'get' | 'head' | 'options' | 'post' | 'put' | 'patch' | 'delete' }
  | { tag: 'other'; val: string };
export interface ScopeCategories {
  activitypub?: boolean;
  admin?: boolean;
  misc?: boolean;
  notification?: boolean;
  organization?: boolean;
  package?: boolean;
  issue?: boolean;
  repository?: boolean;
  user?: boolean;
}
export interface RouteFlags {
  requiresAuth?: boolean;
  adminOnly?: boolean;
  package?: boolean;
  /** The route writes repository content (contract 0.5). */
  writesContent?: boolean;
  /** The route creates in the acting account's own namespace (contract 0.5). */
  createsInOwnNamespace?: boolean;
}
export type Request =
  | { tag: 'git'; val: { transport: Transport; repository: string; action: GitAction; refs?: RefUpdate[] } }
  | { tag: 'create'; val: { transport: Transport; repository: string; step: 'push-to-create' | 'confirm' | 'abort' } }
  | {
      tag: 'api';
      val: {
        method: HttpMethod;
        categories: ScopeCategories;
        repository?: string;
        namespace?: string;
        route: RouteFlags;
        requiredRole: Role;
        operation?: PrivilegedOperation;
        sudo?: string;
      };
    };
export interface AuthorizeRequest {
  credential: Credential;
  /** `undefined` for none: an empty list is `some([])`, not `none`. */
  alsoPresented?: string[];
  /** The client's address (contract 0.6); `undefined`: unknown. */
  clientAddress?: string;
  request: Request;
  now: Timestamp;
  explain: boolean;
}
export interface BatchRequest {
  credential: Credential;
  alsoPresented?: string[];
  clientAddress?: string;
  transport: Transport;
  action: GitAction;
  repositories: string[];
  now: Timestamp;
  explain: boolean;
}
export interface RefPermissionsRequest {
  credential: Credential;
  alsoPresented?: string[];
  clientAddress?: string;
  transport: Transport;
  repository: string;
  refs: string[];
  now: Timestamp;
}
export type Verdict =
  | { tag: 'allow'; val: 'granted' | 'public-read' }
  | { tag: 'bad-request'; val: 'request-invalid' | 'conflicting-credentials' | 'ref-name-invalid' | 'repository-exists' }
  | { tag: 'unauthorized'; val: string }
  | { tag: 'forbidden'; val: string }
  | { tag: 'not-found'; val: 'repository-not-found' | 'namespace-not-found' };
export interface Effects {
  touchLastUsed?: boolean;
  revokeFamily?: boolean;
}
export type Rule = string;
export type TraceOutcome = 'pass' | 'decide' | 'skip';
export interface Decision {
  verdict: Verdict;
  message?: string;
  detail?: string;
  refs?: { verdict: Verdict; message?: string }[];
  effects: Effects;
  trace?: { rule: Rule; outcome: TraceOutcome; detail: string }[];
}
export interface RefPermissions {
  create?: boolean;
  push?: boolean;
  forcePush?: boolean;
}
/** `ref-permissions`' answer: one set per ref, and the push decision's store effects. */
export interface RefGrants {
  refs: RefPermissions[];
  effects: Effects;
}
export function decisionOutput(decision: Decision, refNames?: string[]): DecisionJson;
export function failureOutput(detail: string): DecisionJson;
export function permissionsOutput(refNames: string[], permissions: RefPermissions[]): Record<string, ('create' | 'push' | 'force-push')[]>;
export function verdictStatus(verdict: Verdict): 200 | 400 | 401 | 403 | 404;
export function httpMethod(method: string): HttpMethod;
export function refChange(oldId: string, newId: string): 'create' | 'update' | 'delete';
export function repositoryPath(requested: string): string;
export function readRequest(input: RequestJson | string): unknown;

// ---- config and lifecycle --------------------------------------------------------------------

export interface Config {
  keys: { id: string; secret: Uint8Array }[];
  signingKeyId: string;
  options: { bindingFallbackToAnonymous: boolean; requireExpiry: boolean; maxLifetime: Timestamp; minLifetime: Timestamp };
  /** A site policy's data (JSON text; "" none). Contract 0.6. */
  site: string;
}
export type ScopeError = { tag: 'unknown-scope'; val: string };
export interface TokenRecord {
  id: string;
  owner: string;
  name: string;
  scopes: string[];
  repositories: string[];
  owners: string[];
  parent?: string;
  predecessor?: string;
  successor?: string;
  lastUsed?: Timestamp;
  created: Timestamp;
  expires?: Timestamp;
  revoked?: Timestamp;
  secret: SecretDigest;
}
export interface Account {
  name: string;
  facts: UserFacts;
}
/** Who acts on a token (contract 0.5): the policy decides what each may do. */
export type Actor =
  | { tag: 'session'; val: Account }
  | { tag: 'token'; val: TokenRecord }
  | { tag: 'system'; val: string };
/** @deprecated the contract 0.4 name of {@link Actor}. */
export type Creator = Actor;
export interface ChangeContext {
  actor: Actor;
  ip?: string;
  now: Timestamp;
}
/** jco's nested option: the outer level is explicit. */
export type Option<T> = { tag: 'none' } | { tag: 'some'; val: T };
export interface HistoryEvent {
  tokenId: string;
  owner: string;
  action: 'create' | 'edit' | 'rotate' | 'revoke' | 'expire';
  actor: string;
  ip?: string;
  at: Timestamp;
  name: string;
  scopes: string[];
  expires?: Timestamp;
  parent?: string;
  oldName?: string;
  oldScopes?: string[];
  oldExpires: Option<Timestamp | undefined>;
  related?: string;
}
export interface IssueRequest {
  owner: string;
  name: string;
  scopes: string[];
  repositories: string[];
  owners: string[];
  expires?: Timestamp;
  now: Timestamp;
  creator: Actor;
  existingNames: string[];
  boundFacts: { repository: string; facts?: RepositoryFacts }[];
  ip?: string;
}
export type IssueError =
  | { tag: 'no-permission-scope' | 'expiry-in-past' | 'bad-name' | 'bound-and-public-only' | 'expiry-required' | 'name-taken' | 'creator-not-allowed' | 'creator-not-live' | 'bad-owner' | 'entropy-unavailable' }
  | { tag: 'unknown-scope' | 'bad-repository' | 'scope-not-allowed-when-bound' | 'repository-not-visible' | 'scope-not-grantable' | 'exceeds-creator'; val: string }
  | { tag: 'lifetime-too-long' | 'lifetime-too-short'; val: number };
export interface IssuedToken {
  secret: string;
  record: TokenRecord;
  event: HistoryEvent;
}
export interface ChildRequest {
  parent: TokenRecord;
  scopes: string[];
  lifetime: Timestamp;
  minimumLifetime?: Timestamp;
  existingChildren: TokenRecord[];
  context: ChangeContext;
}
export type ChildOutcome = { tag: 'reuse'; val: TokenRecord } | { tag: 'minted'; val: IssuedToken };
export interface RotateRequest {
  old: TokenRecord;
  expires?: Timestamp;
  records: TokenRecord[];
  context: ChangeContext;
}
export interface Rotation {
  new: IssuedToken;
  old: TokenRecord;
  revokedChildren: TokenRecord[];
  events: HistoryEvent[];
}
export type RevokeScope = 'token' | 'family';
export interface ChangePlan {
  updates: TokenRecord[];
  events: HistoryEvent[];
}
export interface TokenEdit {
  name?: string;
  scopes?: string[];
  expires?: Option<Timestamp | undefined>;
}
export type LifecycleError =
  | { tag: 'unknown-token' | 'token-not-live'; val: string }
  | { tag: 'refused'; val: IssueError }
  | { tag: 'not-permitted' };
export interface AuditEntry {
  record: TokenRecord;
  expiryRecorded: boolean;
}
export interface AuditFinding {
  tokenId: string;
  kind: string;
  message: string;
  fix?: { tag: 'update'; val: TokenRecord } | { tag: 'record-expiry'; val: string };
  event?: HistoryEvent;
}

// ---- modules -------------------------------------------------------------------------------

export const CONTRACT_VERSION: '0.6.0';
export const AUTHORIZER_EXPORT: 'forge:authz/authorizer@0.6.0';
export const GENERATED_DIR: string;
export const CARGO_POLICY_WASM: string;
export class PolicyModule {
  readonly sha256: string;
  readonly origin: 'prebuilt' | 'transpiled';
  readonly imports: string[];
  readonly exports: [string, string][];
}
/** Thrown (as a rejection) by `compileModule` / `loadPrebuiltModule` for a module that cannot serve. */
export class ModuleRefused extends Error {}
/** Transpile (jco, in-process) and compile a component's bytes; generated/ is used when it holds these bytes. */
export function compileModule(bytes: Uint8Array, options?: { prebuiltDir?: string | null }): Promise<PolicyModule>;
/** The module `npm run transpile` wrote to `dir` (default generated/), checked against its recorded digests. */
export function loadPrebuiltModule(dir?: string): Promise<PolicyModule>;
export function defaultModuleBytes(): Uint8Array;
export function sha256Hex(bytes: Uint8Array): string;
/** jco's glue with the faster (same-bytes) string path this host applies to every transpile. */
export function tuneGlue(js: string): string;

// ---- helpers -------------------------------------------------------------------------------

/** jco's value with every `s64` as a number (hash words stay BigInts). */
export function plain<T>(value: T): T;
export function secretDigest(kind: 'hmac-tag' | 'sha256', bytesOrHex: Uint8Array | string): SecretDigest | null;
export function hash256FromBytes(bytes: Uint8Array): Hash256;
export function hash256ToBytes(hash: Hash256): Uint8Array;

// ---- HTTP ----------------------------------------------------------------------------------

import type { IncomingMessage, ServerResponse } from 'node:http';

export interface HttpAnswer {
  status: 200 | 400 | 401 | 403 | 404 | 503;
  allow: boolean;
  headers: Record<string, string | string[]>;
  body: string;
}
/**
 * The HTTP answer to a decision: `allow` only for an allow none of whose ref updates is
 * refused (a push allowed with a refused ref update is a 403 with the first refused ref's
 * reason and message: git http-backend cannot apply part of a push).
 */
export function mapDecisionToHttp(output: Partial<DecisionJson>, options?: { realm?: string }): HttpAnswer;
export interface AuthorizeHttpOptions {
  policy: Policy;
  facts?: FactSource;
  asyncFacts?: AsyncFactSource;
  /** What the HTTP request asks, in the decide format without the credential; `null`: not the policy's route. */
  describe?: (req: IncomingMessage, url: URL) => Omit<RequestJson, 'credential' | 'also_presented' | 'client_address'> | null;
  onDecision?: (req: IncomingMessage, decided: Decided) => void;
  realm?: string;
  /** Wall time one decision's fact reads may take (default 250). */
  budgetMs?: number;
  /**
   * The client's address, checked against IP allow lists (default `peerAddressOf`: the TCP
   * peer). Behind a reverse proxy, read its header only when the peer is that proxy.
   */
  clientAddress?: (req: IncomingMessage) => string | undefined;
}
/** The TCP peer's address (an IPv4-mapped IPv6 address as IPv4). */
export function peerAddressOf(req: IncomingMessage): string | undefined;
export type Middleware = (req: IncomingMessage & { forgeAuthz?: unknown }, res: ServerResponse, next: (err?: unknown) => void) => void;
export function authorizeHttp(options: AuthorizeHttpOptions): Middleware;
export const expressAuthorize: typeof authorizeHttp;
