// Requests in the `forge-authz decide` JSON format → the WIT calls, and decisions → the
// output JSON, exactly as hosts/README.md specifies (fixture/src/request.rs).

import {
  InputError,
  bool,
  fail,
  field,
  int64,
  list,
  oneOf,
  onlyFields,
  optField,
  parsed,
  str,
} from './util.js';
import { ACTIONS, CATEGORIES, OPERATIONS, POLICY_FAILURE_CODE, POLICY_FAILURE_MESSAGE, POLICY_FAILURE_STATUS, ROLES, STEPS } from './vocabulary.js';

const KINDS = ['git', 'create', 'api', 'ref-permissions', 'batch'];
const REQUEST_FIELDS = [
  'credential',
  'also_presented',
  'client_address',
  'kind',
  'transport',
  'repository',
  'action',
  'refs',
  'ref_names',
  'repositories',
  'step',
  'method',
  'categories',
  'namespace',
  'requires_auth',
  'admin_only',
  'required_role',
  'operation',
  'sudo',
  'package',
  'writes_content',
  'creates_in_own_namespace',
  'now',
  'explain',
];
const SOME_ID = '1'.repeat(40);
const METHODS = { GET: 'get', HEAD: 'head', OPTIONS: 'options', POST: 'post', PUT: 'put', PATCH: 'patch', DELETE: 'delete' };

/** Strip one trailing `.git`, in any case (a URL convention, not part of the name). */
export const repositoryPath = (r) => (r.length >= 4 && r.slice(-4).toLowerCase() === '.git' ? r.slice(0, -4) : r);

/** A method name as the WIT types it: the seven in any case, else `other` as sent. */
export function httpMethod(m) {
  const upper = m.replace(/[a-z]+/g, (x) => x.toUpperCase());
  return Object.hasOwn(METHODS, upper) ? { tag: METHODS[upper] } : { tag: 'other', val: m };
}

/** A ref update's change from its object ids (all zeros: created / deleted). */
export function refChange(oldId, newId) {
  const zero = (id) => /^0*$/.test(id);
  if (oldId === '' || newId === '') throw new InputError('a ref update needs old and new object ids');
  if (zero(newId)) return 'delete';
  if (zero(oldId)) return 'create';
  return 'update';
}

/** A credential in the request format: `"anonymous"`, `{"bearer"}`, `{"basic"}`, `{"ssh-key"}`, `{"session"}`. */
export function readCredential(v, path = 'credential') {
  if (v === 'anonymous') return { kind: 'anonymous' };
  if (typeof v === 'string') fail(path, `unknown variant \`${v}\`, expected one of \`anonymous\`, \`bearer\`, \`basic\`, \`ssh-key\`, \`session\``);
  onlyFields(v, ['bearer', 'basic', 'ssh-key', 'session'], path);
  const keys = Object.keys(v);
  if (keys.length !== 1) fail(path, 'expected exactly one credential');
  const k = keys[0];
  const p = `${path}.${k}`;
  switch (k) {
    case 'bearer':
      return { kind: 'bearer', token: str(v[k], p) };
    case 'basic': {
      onlyFields(v[k], ['username', 'password'], p);
      return { kind: 'basic', username: field(v[k], 'username', p, str), password: field(v[k], 'password', p, str) };
    }
    case 'ssh-key':
      return { kind: 'ssh-key', id: str(v[k], p) };
    default:
      return { kind: 'session', login: str(v[k], p) };
  }
}

function readRefUpdate(v, path) {
  onlyFields(v, ['name', 'old', 'new', 'force'], path);
  return {
    name: field(v, 'name', path, str),
    old: field(v, 'old', path, str, SOME_ID),
    new: field(v, 'new', path, str, SOME_ID),
    force: field(v, 'force', path, bool, false),
  };
}

/** Read a request (JSON text or a parsed value); throws `InputError` naming the field. */
export function readRequest(input) {
  const v = parsed(input, 'request');
  onlyFields(v, REQUEST_FIELDS, '');
  const opt = (k, read) => optField(v, k, '', read);
  return {
    credential: field(v, 'credential', '', readCredential, () => ({ kind: 'anonymous' })),
    alsoPresented: field(v, 'also_presented', '', list(str), () => []),
    clientAddress: opt('client_address', str),
    kind: field(v, 'kind', '', oneOf(KINDS, 'kind'), 'git'),
    transport: field(v, 'transport', '', oneOf(['http', 'ssh'], 'transport'), 'http'),
    repository: opt('repository', str),
    action: opt('action', oneOf(ACTIONS, 'action')),
    refs: field(v, 'refs', '', list(readRefUpdate), () => []),
    refNames: field(v, 'ref_names', '', list(str), () => []),
    repositories: field(v, 'repositories', '', list(str), () => []),
    step: opt('step', oneOf(STEPS, 'step')),
    method: opt('method', str),
    categories: field(v, 'categories', '', list(oneOf(CATEGORIES, 'category')), () => []),
    namespace: opt('namespace', str),
    requiresAuth: field(v, 'requires_auth', '', bool, false),
    adminOnly: field(v, 'admin_only', '', bool, false),
    requiredRole: opt('required_role', oneOf(ROLES, 'role')),
    operation: opt('operation', oneOf(OPERATIONS, 'operation')),
    sudo: opt('sudo', str),
    package: field(v, 'package', '', bool, false),
    writesContent: field(v, 'writes_content', '', bool, false),
    createsInOwnNamespace: field(v, 'creates_in_own_namespace', '', bool, false),
    now: opt('now', int64),
    explain: field(v, 'explain', '', bool, false),
  };
}

/** The WIT credential; an `ssh-key` is looked up by id through `sshKey` (unknown: an error). */
export function witCredential(c, sshKey) {
  switch (c.kind) {
    case 'anonymous':
      return { tag: 'anonymous' };
    case 'bearer':
      return { tag: 'bearer', val: c.token };
    case 'basic':
      return { tag: 'basic', val: { username: c.username, password: c.password } };
    case 'session':
      return { tag: 'session', val: c.login };
    default: {
      // An SSH server only authenticates keys it knows: an unknown id never gets here.
      const key = sshKey ? sshKey(c.id) : undefined;
      if (key == null) throw new InputError(`unknown ssh key \`${c.id}\``);
      return { tag: 'ssh-key', val: key };
    }
  }
}

const needRepository = (r) => {
  if (r.repository === undefined) throw new InputError(`a ${r.kind} request needs \`repository\``);
  return repositoryPath(r.repository);
};
const needAction = (r) => {
  if (r.action === undefined) throw new InputError('a git request needs `action`');
  return r.action;
};
const alsoPresented = (r) => (r.alsoPresented.length > 0 ? r.alsoPresented : undefined);

/**
 * The WIT call a request makes: `{call: 'authorize' | 'authorize-batch' | 'ref-permissions',
 * arg, refNames, repositories}` (`refNames`: the ref updates' names, for the output).
 * `credential` is the WIT credential already resolved (see `witCredential`).
 */
export function planCall(r, credential, now) {
  now = BigInt(r.now ?? now);
  switch (r.kind) {
    case 'ref-permissions':
      return {
        call: 'ref-permissions',
        arg: {
          credential,
          alsoPresented: alsoPresented(r),
          clientAddress: r.clientAddress,
          transport: r.transport,
          repository: needRepository(r),
          refs: r.refNames,
          now,
        },
        refNames: r.refNames,
      };
    case 'batch':
      return {
        call: 'authorize-batch',
        arg: {
          credential,
          alsoPresented: alsoPresented(r),
          clientAddress: r.clientAddress,
          transport: r.transport,
          action: needAction(r),
          repositories: r.repositories.map(repositoryPath),
          now,
          explain: r.explain,
        },
        repositories: r.repositories,
      };
    default:
      return {
        call: 'authorize',
        arg: { credential, alsoPresented: alsoPresented(r), clientAddress: r.clientAddress, request: witRequest(r), now, explain: r.explain },
        refNames: r.refs.map((u) => u.name),
      };
  }
}

function witRequest(r) {
  switch (r.kind) {
    case 'git': {
      const repository = needRepository(r);
      const refs = r.refs.map((u) => ({ name: u.name, change: refChange(u.old, u.new), force: u.force }));
      return {
        tag: 'git',
        val: { transport: r.transport, repository, action: needAction(r), refs: refs.length > 0 ? refs : undefined },
      };
    }
    case 'create':
      if (r.step === undefined) {
        needRepository(r);
        throw new InputError('a create request needs `step`');
      }
      return { tag: 'create', val: { transport: r.transport, repository: needRepository(r), step: r.step } };
    default: {
      if (r.method === undefined) throw new InputError('an api request needs `method`');
      const categories = {};
      for (const c of r.categories) categories[c] = true;
      return {
        tag: 'api',
        val: {
          method: httpMethod(r.method),
          categories,
          repository: r.repository === undefined ? undefined : repositoryPath(r.repository),
          namespace: r.namespace,
          route: {
            requiresAuth: r.requiresAuth,
            adminOnly: r.adminOnly,
            package: r.package,
            writesContent: r.writesContent,
            createsInOwnNamespace: r.createsInOwnNamespace,
          },
          requiredRole: r.requiredRole ?? 'none',
          operation: r.operation,
          sudo: r.sudo,
        },
      };
    }
  }
}

// ---- decisions → output --------------------------------------------------------------------

const STATUS = { allow: 200, 'bad-request': 400, unauthorized: 401, forbidden: 403, 'not-found': 404 };

/** The HTTP status of a verdict. */
export const verdictStatus = (v) => STATUS[v.tag];

export { POLICY_FAILURE_MESSAGE };

/** The host's own deny when the policy could not decide. */
export function failureOutput(detail) {
  return { decision: 'deny', status: POLICY_FAILURE_STATUS, reason: POLICY_FAILURE_CODE, message: POLICY_FAILURE_MESSAGE, detail };
}

/** One decision as `forge-authz decide` prints it; `refNames` name its ref verdicts. */
export function decisionOutput(d, refNames = []) {
  const allow = d.verdict.tag === 'allow';
  const out = { decision: allow ? 'allow' : 'deny', status: verdictStatus(d.verdict), reason: d.verdict.val };
  if (d.message) out.message = d.message;
  if (d.detail !== undefined && d.detail !== null) out.detail = d.detail;
  const refs = d.refs ?? [];
  if (refs.length > 0) {
    out.refs = refs.map((v, i) => ({
      name: refNames[i] ?? '',
      decision: v.verdict.tag === 'allow' && allow ? 'allow' : 'deny',
      reason: v.verdict.val,
      message: v.message ?? '',
    }));
  }
  const trace = d.trace ?? [];
  if (trace.length > 0) out.trace = trace.map((s) => ({ rule: s.rule, outcome: s.outcome, detail: s.detail }));
  return out;
}

/** Ref permissions as printed: ref name → the permissions set, in `create, push, force-push` order. */
export function permissionsOutput(refNames, perms) {
  const out = {};
  refNames.forEach((name, i) => {
    const p = perms?.[i] ?? {};
    const set = [];
    if (p.create) set.push('create');
    if (p.push) set.push('push');
    if (p.forcePush) set.push('force-push');
    // defineProperty: a ref named `__proto__` is a key like any other.
    Object.defineProperty(out, name, { value: set, enumerable: true, writable: true, configurable: true });
  });
  return out;
}
