// A live policy: one warm component instance with its configured `authorizer`, calls that
// fail closed, hot swap, and the JSON formats of `forge-authz decide` / `fa_verify` /
// `fa_issue`.
//
// Every call returns a value, never throws for anything the policy or a fact source does:
// `{ok: true, value}`; `{ok: false, error}` with `error` the policy's own refusal (the WIT
// `result`'s `err`, e.g. `'bad-signature'` or `{tag: 'unknown-scope', val: 'x'}`) or a host
// error `{tag: 'policy-failure' | 'invalid-input' | 'module-refused', val: <message>}`.
// A failed call (trap, a fact source that threw, a misbehaving module) discards the
// instance; the next call builds a fresh one, as the Rust host does.

import {
  InputError,
  err,
  invalidInput,
  messageOf,
  ok,
  parsed,
  plain,
  policyFailure,
  stableJson,
  eqIgnoreAsciiCase,
  field,
  int64,
  list,
  onlyFields,
  optField,
  str,
} from './util.js';
import { CHECKED, STORED_PATH, configFromJson, isThenable, tokenDefFromRecord, tokenFactsFromRecord } from './facts.js';
import { askedBatch, askedLookup, checkFactAnswer, checkRepositoryFacts, checkSshKey } from './boundary.js';
import {
  decisionOutput,
  failureOutput,
  permissionsOutput,
  planCall,
  readCredential,
  readRequest,
  witCredential,
} from './request.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GENERATED_DIR, ModuleRefused, PolicyModule, compileModule, defaultModuleBytes, loadPrebuiltModule, moduleProvenance } from './module.js';
import { TrustRefused, readTrust, verifyModule } from './trust.js';

const symbolDispose = Symbol.dispose || Symbol.for('dispose');
const systemNow = () => Math.floor(Date.now() / 1000);
const refused = (message) => err({ tag: 'module-refused', val: message });
/** Modules already reported as serving unsigned (one warning per module per process). */
const warnedUnsigned = new Set();

/** How jco reports a WIT `result`'s `err`: a `ComponentError` carrying `payload`. */
const isComponentError = (e) => e instanceof Error && e.constructor?.name === 'ComponentError' && Object.hasOwn(e, 'payload');

/** A config error in words (`weak-key (k1)`). */
export const describeVariant = (v) => (typeof v === 'string' ? v : v.val === undefined ? v.tag : `${v.tag} (${v.val})`);

const effectsEmpty = (e) => !e || (!e.touchLastUsed && !e.revokeFamily);

/** The wall time a decision's fact reads may take in all, unless `budgetMs` says otherwise. */
export const DEFAULT_BUDGET_MS = 250;
const budgetOf = (ms) => (typeof ms === 'number' && ms > 0 ? ms : DEFAULT_BUDGET_MS);
const overBudget = (spent, budget) => `the fact source took ${spent.toFixed(1)} ms, over its budget of ${budget} ms`;
// A promise the sync path cannot wait for: its rejection is nobody's (never unhandled).
const dropped = (p) => {
  Promise.resolve(p).catch(() => {});
  return 'the fact source answered a promise: decide with decideAsync';
};
const repositoryList = (a, n, trusted) => {
  if (!Array.isArray(a) || a.length !== n) throw new InputError('the fact source answered no list of one entry per path');
  return a.map((r, i) => {
    if (r == null) return undefined;
    return trusted ? r : checkRepositoryFacts(r, `repositories[${i}]`);
  });
};

/**
 * A decision's reads against its budget (`decideAsync`): the reads race one timer, started at
 * the first read with the time left, and get `{signal}` (an `AbortSignal`, aborted when the
 * budget runs out). `close()` stops the timer.
 */
class Budget {
  #controller = null;
  #expired = null;
  #timer = undefined;
  constructor(ms) {
    this.ms = ms;
    this.spent = 0;
  }
  #start() {
    const controller = new AbortController();
    this.#controller = controller;
    this.#expired = new Promise((_, reject) => {
      this.#timer = setTimeout(() => {
        const e = new Error(overBudget(this.ms, this.ms));
        controller.abort(e);
        reject(e);
      }, Math.max(1, Math.ceil(this.ms - this.spent)));
    });
    this.#expired.catch(() => {});
  }
  async read(f) {
    if (this.spent > this.ms) throw new Error(overBudget(this.spent, this.ms));
    if (this.#controller === null) this.#start();
    const t0 = performance.now();
    let p;
    try {
      p = Promise.resolve(f({ signal: this.#controller.signal }));
    } catch (e) {
      p = Promise.reject(e);
    }
    p.catch(() => {});
    try {
      return await Promise.race([p, this.#expired]);
    } finally {
      this.spent += performance.now() - t0;
      if (this.spent > this.ms) this.close();
    }
  }
  /** The reads' outcome once they are over: over budget is a failure, even for a good answer. */
  check() {
    if (this.spent > this.ms) throw new Error(overBudget(this.spent, this.ms));
  }
  close() {
    clearTimeout(this.#timer);
  }
}

export class Policy {
  #module;
  #config;
  #live = null;
  #busy = false;
  #gathered = {};
  #trust = readTrust();
  /** How the serving module was accepted: `{builtIn}`, `{signed, version, keyId}` or `{signed: false}`. */
  #accepted = { builtIn: true };
  /** The highest signed version this object made live (a lower one is a replay). */
  #floor = 0n;

  constructor(module, config, live) {
    this.#module = module;
    this.#config = config;
    this.#live = live;
  }

  /**
   * Load a policy module and configure it, checked as a server checks a module before it
   * serves: it loads, accepts the keys, and gives the known answers.
   *
   * @param options.module the component's bytes, or a `PolicyModule` (default: generated/,
   *   checked against its recorded digests, else the bytes `cargo policy` built)
   * @param options.trust `{publicKeys: [minisign public-key text], retiredKeyIds, allowUnsigned}`
   *   (lib/trust.js): which signatures make module bytes live (default: none; only the
   *   built-in module)
   * @param options.signature the module bytes' minisign signature (the `.minisig` text)
   * @param options.config `{keys: [{id, secret: <hex>}], signing_key, options?}` (a world
   *   fixture works as is), or a WIT `config` (`{keys: [{id, secret: Uint8Array}],
   *   signingKeyId, options}`)
   * @returns `{ok: true, value: Policy}` or `{ok: false, error: {tag: 'module-refused', val}}`
   */
  static async load({ module, config, prebuiltDir, trust, signature } = {}) {
    let cfg;
    let t;
    try {
      cfg = config && config.signingKeyId !== undefined ? config : configFromJson(config ?? {});
    } catch (e) {
      if (e instanceof InputError) return refused(`configuration unreadable: ${e.message}`);
      throw e;
    }
    try {
      t = readTrust(trust ?? {});
    } catch (e) {
      return refused(`trust configuration unreadable: ${e.message}`);
    }
    const m = await Policy.#admit(module, prebuiltDir, signature, t, 0n);
    if (!m.ok) return m;
    const checked = Policy.#check(m.value.module, cfg);
    if (checked.ok) checked.value.#accept(t, m.value.accepted);
    return checked;
  }

  /**
   * The module to make live and how it is trusted (lib/trust.js): bytes are verified before
   * they are even transpiled; the built-in module (`module` undefined: generated/, else
   * `cargo policy`'s build) is trusted as built; a compiled `PolicyModule` by the bytes
   * compileModule saw. Refused: `{ok: false}`, nothing changed.
   */
  static async #admit(module, prebuiltDir, signature, trust, floor) {
    try {
      if (module instanceof Uint8Array) {
        const accepted = verifyModule(module, signature, trust, floor);
        const m = await Policy.#compile(module, prebuiltDir);
        return m.ok ? ok({ module: m.value.module, accepted }) : m;
      }
      const m = await Policy.#compile(module, prebuiltDir);
      if (!m.ok) return m;
      const seen = moduleProvenance(m.value.module);
      if (m.value.builtIn || seen?.builtIn) return ok({ module: m.value.module, accepted: { builtIn: true } });
      if (seen?.bytes) return ok({ module: m.value.module, accepted: verifyModule(seen.bytes, signature, trust, floor) });
      if (signature === undefined && trust.allowUnsigned) return ok({ module: m.value.module, accepted: { signed: false } });
      throw new TrustRefused('unsigned', 'a compiled module whose bytes this host never saw cannot be verified: pass its bytes and signature');
    } catch (e) {
      if (e instanceof TrustRefused) return refused(`policy module refused: untrusted module: ${e.message}`);
      throw e;
    }
  }

  static async #compile(module, prebuiltDir) {
    try {
      if (module instanceof PolicyModule) return ok({ module, builtIn: false });
      if (module === undefined) {
        // The prebuilt module (checked against its recorded digests), else `cargo policy`'s.
        const dir = prebuiltDir === undefined ? GENERATED_DIR : prebuiltDir;
        if (dir !== null && existsSync(join(dir, 'source.json'))) return ok({ module: await loadPrebuiltModule(dir), builtIn: false });
      }
      const bytes = module ?? defaultModuleBytes();
      const compiled = await compileModule(bytes, prebuiltDir === undefined ? {} : { prebuiltDir });
      return ok({ module: compiled, builtIn: module === undefined });
    } catch (e) {
      if (e instanceof ModuleRefused) return refused(`policy module refused: ${e.message}`);
      return refused(`policy module refused: ${messageOf(e)}`);
    }
  }

  /** Record how the module now serving was trusted (an unsigned one: also a process warning). */
  #accept(trust, accepted) {
    this.#trust = trust;
    this.#accepted = accepted;
    if (accepted.signed && accepted.version > this.#floor) this.#floor = accepted.version;
    if (accepted.signed === false && !warnedUnsigned.has(this.sha256)) {
      warnedUnsigned.add(this.sha256);
      process.emitWarning(`forge-authz: policy module ${this.sha256} is serving WITHOUT a signature (trust.allowUnsigned)`, {
        code: 'FORGE_AUTHZ_UNSIGNED_MODULE',
      });
    }
  }

  /**
   * How the serving module is trusted: `module` is `built-in`, `signed` (with its signed
   * `version` and the `keyId` that signed it) or `unsigned` (only with `allowUnsigned`);
   * `highestVersion`: the floor below which a signed module is a replay.
   */
  get moduleTrust() {
    const a = this.#accepted;
    return {
      module: a.builtIn ? 'built-in' : a.signed ? 'signed' : 'unsigned',
      version: a.signed ? a.version : null,
      keyId: a.signed ? a.keyId : null,
      allowUnsigned: this.#trust.allowUnsigned,
      highestVersion: this.#floor,
    };
  }

  /** A candidate policy for `module`, if it builds, accepts `config` and gives the known answers. */
  static #check(module, config) {
    const p = new Policy(module, config, null);
    const built = p.#build();
    if (!built.ok) return refused(`policy module refused: ${built.error.val}`);
    p.#live = built.value;
    const kat = knownAnswers(p);
    if (kat !== null) {
      p.#discard();
      return refused(`policy module refused: known-answer check failed: ${kat}`);
    }
    return ok(p);
  }

  /** SHA-256 (hex) of the module serving now. */
  get sha256() {
    return this.#module.sha256;
  }

  /** How the serving module was loaded: `prebuilt` or `transpiled`. */
  get origin() {
    return this.#module.origin;
  }

  /**
   * Swap in another module version at run time: transpiled, instantiated with this
   * policy's configuration and given the known answers before it serves. A refused module
   * leaves the current one serving. Calls are synchronous, so none is in flight: every
   * later call uses the new version. Bytes must carry a signature from a trusted key (the
   * `.minisig` text, `options.signature`; lib/trust.js) with a version not below the highest
   * this policy accepted, unless the policy was loaded with `trust.allowUnsigned`.
   *
   * @param {Uint8Array} bytes
   * @returns `{ok: true, value: {sha256, previous}}` or `{ok: false, error}` (old one kept)
   */
  async swap(bytes, { prebuiltDir, signature } = {}) {
    if (!(bytes instanceof Uint8Array) && !(bytes instanceof PolicyModule)) {
      return refused('policy module refused: module bytes must be a Uint8Array (or a PolicyModule)');
    }
    const m = await Policy.#admit(bytes, prebuiltDir, signature, this.#trust, this.#floor);
    if (!m.ok) return m;
    const { accepted } = m.value;
    const checked = Policy.#check(m.value.module, this.#config);
    if (!checked.ok) return checked;
    if (accepted.signed && accepted.version < this.#floor) {
      // Another swap made a newer version live while this one was being checked.
      checked.value.#discard();
      return refused(`policy module refused: untrusted module: replayed-older: version ${accepted.version} is older than version ${this.#floor}, already accepted`);
    }
    const previous = this.#module.sha256;
    const fresh = checked.value;
    this.#discard();
    this.#module = fresh.#module;
    this.#live = fresh.#live;
    fresh.#live = null;
    this.#accept(this.#trust, accepted);
    return ok({ sha256: this.#module.sha256, previous });
  }

  /** Release the instance (a later call builds a new one). */
  close() {
    this.#discard();
  }

  #build() {
    const slot = { facts: null, lookups: 0, batchLookups: 0, threw: null, gathered: {}, observe: undefined, budget: DEFAULT_BUDGET_MS, spent: 0 };
    // One read of the fact source: told to `observe` first, timed against the decision's
    // budget (a late answer fails, even a good one), checked before jco lowers it.
    const read = (asked, ask, check) => {
      if (slot.observe) {
        const t0 = performance.now();
        try {
          slot.observe(asked());
        } catch {
          // the hook cannot fail the decision; its time counts
        }
        slot.spent += performance.now() - t0;
      }
      const t0 = performance.now();
      let answer;
      try {
        answer = ask();
      } catch (e) {
        throw hostFault(slot, `fact lookup failed: ${messageOf(e)}`);
      } finally {
        slot.spent += performance.now() - t0;
      }
      if (isThenable(answer)) throw hostFault(slot, `fact lookup failed: ${dropped(answer)}`);
      if (slot.spent > slot.budget) throw hostFault(slot, `fact lookup failed: ${overBudget(slot.spent, slot.budget)}`);
      try {
        return check(answer);
      } catch (e) {
        throw hostFault(slot, `fact lookup failed: ${messageOf(e)}`);
      }
    };
    const host = {
      lookup(query) {
        if (!slot.facts) throw hostFault(slot, 'the policy asked for facts outside a decision');
        if (++slot.lookups > 1) throw hostFault(slot, 'the policy asked for facts more than once');
        const answer = read(
          () => askedLookup(query),
          () => slot.facts.lookup(query),
          (a) => {
            if (a === null || typeof a !== 'object') throw new InputError('the fact source answered no object');
            return slot.facts[CHECKED] ? a : checkFactAnswer(a);
          },
        );
        slot.gathered = { token: query.token, user: answer.token?.owner ?? query.account, repository: answer.repository?.[STORED_PATH] };
        return answer;
      },
      repositories(paths, viewer) {
        if (!slot.facts) throw hostFault(slot, 'the policy asked for facts outside a decision');
        if (++slot.batchLookups > 1) throw hostFault(slot, 'the policy asked for repositories more than once');
        return read(
          () => askedBatch(paths, viewer),
          () => slot.facts.repositories(paths, viewer),
          (a) => repositoryList(a, paths.length, slot.facts[CHECKED]),
        );
      },
    };
    try {
      const api = this.#module.instantiate(host);
      let authorizer;
      try {
        authorizer = api.Authorizer.create(this.#config);
      } catch (e) {
        if (isComponentError(e)) return policyFailure(`configuration refused: ${describeVariant(e.payload)}`);
        throw e;
      }
      return ok({ api, authorizer, slot });
    } catch (e) {
      return policyFailure(messageOf(e));
    }
  }

  #discard() {
    const live = this.#live;
    this.#live = null;
    if (live) {
      // Disposing unregisters jco's finalizer first: a discarded (maybe trapped) instance
      // is never entered again from a garbage-collection callback.
      try {
        live.authorizer[symbolDispose]?.();
      } catch {
        // a trapped instance may trap again here: it is dropped either way
      }
    }
  }

  /**
   * Run `f(authorizer, api)` on the live instance with `facts` answering its queries.
   * `result`: the WIT function returns a `result` (jco throws its `err` as a ComponentError).
   */
  #run(f, facts, result, options) {
    if (this.#busy) return policyFailure('re-entrant call: the policy is already deciding (did a fact source call it?)');
    if (!this.#live) {
      const built = this.#build();
      if (!built.ok) return built;
      this.#live = built.value;
    }
    const live = this.#live;
    const s = live.slot;
    s.facts = facts ?? null;
    s.lookups = 0;
    s.batchLookups = 0;
    s.threw = null;
    s.gathered = {};
    s.observe = options?.observe;
    s.budget = budgetOf(options?.budgetMs);
    s.spent = options?.spent ?? 0;
    this.#gathered = {};
    this.#busy = true;
    try {
      const value = f(live.authorizer, live.api);
      this.#gathered = s.gathered;
      return { ok: true, value };
    } catch (e) {
      if (result && s.threw === null && isComponentError(e)) return err(plain(e.payload));
      this.#discard();
      return policyFailure(s.threw ?? messageOf(e));
    } finally {
      s.facts = null;
      this.#busy = false;
    }
  }

  // ---- the WIT calls, as values ----------------------------------------------------------

  /**
   * `authorizer.authorize`: `{ok: true, value: Decision}`; `facts` answers the one query.
   * `options`: `{observe, budgetMs}` as for `decide`.
   */
  authorize(request, facts, options) {
    return this.#run((a) => a.authorize(request), facts, false, options);
  }

  /** `authorizer.authorize-batch`. */
  authorizeBatch(request, facts, options) {
    return this.#run((a) => a.authorizeBatch(request), facts, false, options);
  }

  /** `authorizer.ref-permissions`. */
  refPermissions(request, facts, options) {
    return this.#run((a) => a.refPermissions(request), facts, false, options);
  }

  /** `authorizer.verify`: `{ok: true, value: VerifiedToken | undefined}` or `{ok: false, error: TokenError}`. */
  verifyCredential(credential) {
    return this.#run((a) => a.verify(credential), null, true);
  }

  /** `authorizer.issue`: `{ok: true, value: IssuedToken}` (s64 as numbers) or `{ok: false, error: IssueError}`. */
  issue(request) {
    return mapOk(this.#run((a) => a.issue(request), null, true), plain);
  }

  deriveChild(request) {
    return mapOk(this.#run((a) => a.deriveChild(request), null, true), plain);
  }

  rotate(request) {
    return mapOk(this.#run((a) => a.rotate(request), null, true), plain);
  }

  planRevoke(tokenId, scope, records, context) {
    return mapOk(this.#run((a) => a.planRevoke(tokenId, scope, records, context), null, true), plain);
  }

  planEdit(tokenId, edit, records, context) {
    return mapOk(this.#run((a) => a.planEdit(tokenId, edit, records, context), null, true), plain);
  }

  planExpire(entries, context) {
    return mapOk(this.#run((a) => a.planExpire(entries, context), null, false), plain);
  }

  audit(entries, context) {
    return mapOk(this.#run((a) => a.audit(entries, context), null, false), plain);
  }

  /** `inspect` (no key): `{ok: true, value: TokenInfo}` or `{ok: false, error: TokenError}`. */
  inspect(secret) {
    return this.#run((_, api) => api.inspect(secret), null, true);
  }

  normalizeScopes(scopes) {
    return this.#run((_, api) => api.normalizeScopes(scopes), null, true);
  }

  migrateLegacyScopes(scopes) {
    return this.#run((_, api) => api.migrateLegacyScopes(scopes), null, false);
  }

  // ---- the JSON formats ------------------------------------------------------------------

  /**
   * Decide a request in the `forge-authz decide` format with `facts` (a `World`, or any
   * fact source: `lookup`, `repositories`, `sshKey` for SSH-key credentials, `now()` for its
   * clock). Returns `{ok: true, value: <the output JSON>, allow, effects, token, user}`, or
   * `{ok: false, error: {tag: 'invalid-input', val}}` for a request that could not be read.
   * A policy that could not decide (a fact source that threw, answered garbage or took longer
   * than its budget) is a `policy-failure` deny (503), inside `value`.
   *
   * Options: `now` (the clock, Unix seconds); `observe(askedJson)`, told each query the policy
   * asks before it is answered (design §1's query JSON: `{"lookup": {...}}` or
   * `{"repositories": {"paths": [...], "viewer": ...}}`); `budgetMs`, the wall time all reads
   * of the fact source may take in one decision (default 250: a late answer fails, even a
   * good one; a read that blocks cannot be interrupted, so bound your own I/O).
   */
  decide(facts, request, { now, observe, budgetMs } = {}) {
    const budget = budgetOf(budgetMs);
    let spent = 0;
    const sshKey = (id) => {
      const t0 = performance.now();
      try {
        return facts.sshKey?.(id);
      } finally {
        spent += performance.now() - t0;
      }
    };
    const plan = prepare(request, sshKey, now ?? facts.now?.(), false, budget, () => spent);
    if (!plan.ok) return plan;
    if (plan.value.failed) return this.#failed(plan.value, plan.value.failed);
    return this.#execute(plan.value, facts, { observe, budgetMs: budget, spent });
  }

  /**
   * `decide` over an asynchronous fact source (a forge's database): `lookup(query)`,
   * `repositories(paths, viewer)` and `sshKey(id)` may return promises.
   *
   * The component calls its import synchronously, so the decision runs in passes: a pass
   * that asks a fact not yet read answers it as absent and is discarded; the facts asked
   * are read (awaited), and the decision runs again with them. The policy asks its one
   * query after the checks that need no fact, so it asks the same query again: two passes
   * for a decision (three for a batch), the last one with every fact it asked for.
   *
   * Options as for `decide`. Every read gets `{signal}` as its last argument (aborted when
   * the budget runs out; the decision does not wait for it), and `observe` is told the
   * queries of the pass that decided, once it has decided.
   */
  async decideAsync(source, request, { now, observe, budgetMs } = {}) {
    const budget = new Budget(budgetOf(budgetMs));
    try {
      return await this.#decideAsync(source, request, now, observe, budget);
    } finally {
      budget.close();
    }
  }

  async #decideAsync(source, request, now, observe, budget) {
    let read;
    try {
      read = readRequest(request);
    } catch (e) {
      if (e instanceof InputError) return invalidInput(e.message);
      throw e;
    }
    let key;
    let keyFailed;
    if (read.credential.kind === 'ssh-key' && typeof source.sshKey === 'function') {
      try {
        key = await budget.read((ctx) => source.sshKey(read.credential.id, ctx));
        budget.check();
      } catch (e) {
        keyFailed = messageOf(e);
      }
    }
    const plan = prepare(read, () => {
      if (keyFailed !== undefined) throw new Error(keyFailed);
      return key;
    }, now ?? source.now?.(), true, budget.ms, () => budget.spent);
    if (!plan.ok) return plan;
    if (plan.value.failed) return this.#failed(plan.value, plan.value.failed);
    const memo = new Map();
    for (let pass = 0; pass < 4; pass++) {
      const misses = [];
      const asked = [];
      const facts = {
        lookup(query) {
          if (observe) asked.push(askedLookup(query));
          const k = `L${stableJson(query)}`;
          if (memo.has(k)) return memo.get(k);
          misses.push([k, (ctx) => source.lookup(query, ctx)]);
          return {};
        },
        repositories(paths, viewer) {
          if (observe) asked.push(askedBatch(paths, viewer));
          const k = `R${stableJson([paths, viewer ?? null])}`;
          if (memo.has(k)) return memo.get(k);
          misses.push([k, (ctx) => source.repositories(paths, viewer, ctx)]);
          return paths.map(() => undefined);
        },
      };
      // The passes' reads are the memo's: the budget is the fetches', counted below.
      const decided = this.#execute(plan.value, facts);
      if (misses.length === 0) {
        // The queries of the pass that decided: those of the decision.
        for (const a of asked) {
          try {
            observe(a);
          } catch {
            // the hook cannot fail the decision
          }
        }
        return decided;
      }
      try {
        for (const [k, fetch] of misses) memo.set(k, await budget.read(fetch));
        budget.check();
      } catch (e) {
        return this.#failed(plan.value, `fact lookup failed: ${messageOf(e)}`);
      }
    }
    return this.#failed(plan.value, 'the policy kept asking for facts it had not asked before');
  }

  #failed(plan, detail) {
    switch (plan.call) {
      case 'authorize':
        return { ok: true, value: failureOutput(detail), allow: false };
      case 'authorize-batch':
        return { ok: true, value: plan.repositories.map((repository) => ({ ...failureOutput(detail), repository })), allow: false };
      default:
        return { ok: true, value: permissionsOutput(plan.refNames, []), allow: false };
    }
  }

  #execute(plan, facts, options) {
    switch (plan.call) {
      case 'authorize': {
        const r = this.authorize(plan.arg, facts, options);
        if (!r.ok) return this.#failed(plan, r.error.val);
        const d = r.value;
        const out = { ok: true, value: decisionOutput(d, plan.refNames), allow: d.verdict.tag === 'allow', effects: d.effects };
        const gathered = this.#gathered;
        if (!effectsEmpty(d.effects) && gathered.token !== undefined) out.token = gathered.token;
        if (gathered.user !== undefined) out.user = gathered.user;
        if (gathered.repository !== undefined) out.repository = gathered.repository;
        return out;
      }
      case 'authorize-batch': {
        const r = this.authorizeBatch(plan.arg, facts, options);
        if (!r.ok) return this.#failed(plan, r.error.val);
        const value = plan.repositories.map((repository, i) => {
          const d = r.value[i];
          return { ...(d ? decisionOutput(d) : failureOutput('no decision for this target')), repository };
        });
        return { ok: true, value, allow: value.some((d) => d.decision === 'allow') };
      }
      default: {
        const r = this.refPermissions(plan.arg, facts, options);
        // A policy failure: no permission at all.
        const value = permissionsOutput(plan.refNames, r.ok ? r.value.refs : []);
        const out = { ok: true, value, allow: Object.values(value).some((p) => p.length > 0) };
        // The push decision's effects (contract 0.5): applied as for any request.
        if (r.ok) {
          out.effects = r.value.effects;
          const gathered = this.#gathered;
          if (!effectsEmpty(r.value.effects) && gathered.token !== undefined) out.token = gathered.token;
        }
        return out;
      }
    }
  }

  /**
   * Verify the token in a credential with no facts (`fa_verify`'s format): `{ok: true,
   * value: {token_id, key_id}}` for a genuine token, `{token_error: 'bad-signature'}` for a
   * refused one, `null` when the credential carries no token.
   */
  verify(credential) {
    let c;
    try {
      // `'anonymous'` is the credential itself; other strings are JSON text.
      c = readCredential(credential === 'anonymous' ? credential : parsed(credential, 'credential'));
    } catch (e) {
      if (e instanceof InputError) return invalidInput(e.message);
      throw e;
    }
    const wit = c.kind === 'bearer' || c.kind === 'basic' ? witCredential(c) : { tag: 'anonymous' };
    const r = this.verifyCredential(wit);
    if (r.ok) return ok(r.value ? { token_id: r.value.tokenId, key_id: r.value.keyId } : null);
    if (typeof r.error === 'string') return ok({ token_error: r.error });
    return r;
  }

  /**
   * Mint a token as its owner's session would (`fa_issue`'s format) and add its record to
   * `world`: `{owner, name, scopes, repositories?, owners?, expires?, expires_in?, now?}`.
   * `{ok: true, value: {secret, record}}` (`record`: a fixture `TokenDef`, holding the
   * token's HMAC tag, never the secret), or `{ok: false, error}`: the policy's
   * `issue-error` (e.g. `{tag: 'name-taken'}`) or a host error.
   */
  mint(world, mint) {
    let m;
    try {
      const v = parsed(mint, 'mint');
      onlyFields(v, ['owner', 'name', 'scopes', 'repositories', 'owners', 'expires', 'expires_in', 'now'], '');
      m = {
        owner: field(v, 'owner', '', str),
        name: field(v, 'name', '', str),
        scopes: field(v, 'scopes', '', list(str)),
        repositories: field(v, 'repositories', '', list(str), () => []),
        owners: field(v, 'owners', '', list(str), () => []),
        expires: optField(v, 'expires', '', int64),
        expiresIn: optField(v, 'expires_in', '', int64),
        now: optField(v, 'now', '', int64),
      };
    } catch (e) {
      if (e instanceof InputError) return invalidInput(e.message);
      throw e;
    }
    const now = m.now ?? world.now();
    const user = world.user(m.owner);
    if (!user) return invalidInput(`no user \`${m.owner}\` in the world`);
    const existingNames = world.tokens
      .filter((t) => eqIgnoreAsciiCase(t.owner, m.owner) && t.revoked == null && (t.expires == null || t.expires > now))
      .map((t) => t.name);
    const boundFacts = m.repositories.map((repository) => ({
      repository,
      facts: world.findRepository(repository, m.owner)?.facts,
    }));
    const expires = m.expires ?? (m.expiresIn === undefined ? undefined : now + m.expiresIn);
    const r = this.issue({
      owner: m.owner,
      name: m.name,
      scopes: m.scopes,
      repositories: m.repositories,
      owners: m.owners,
      expires: expires === undefined ? undefined : BigInt(expires),
      now: BigInt(now),
      creator: { tag: 'session', val: { name: m.owner, facts: user } },
      existingNames,
      boundFacts,
      ip: undefined,
    });
    if (!r.ok) return r;
    const record = tokenDefFromRecord(r.value.record);
    world.putToken(record);
    return ok({ secret: r.value.secret, record });
  }
}

// No exception escapes the public calls: whatever a caller passes (a fact source that is not
// one, a world that is not a World...), the answer is a value, and never an allow.
const unexpected = (e) => (e instanceof InputError ? invalidInput(e.message) : policyFailure(`host error: ${messageOf(e)}`));
for (const name of ['decide', 'verify', 'mint']) {
  const f = Policy.prototype[name];
  Object.defineProperty(Policy.prototype, name, {
    value: function guarded(...args) {
      try {
        return f.apply(this, args);
      } catch (e) {
        return unexpected(e);
      }
    },
    writable: true,
    configurable: true,
  });
}
for (const [target, name, onError] of [
  [Policy.prototype, 'decideAsync', unexpected],
  [Policy.prototype, 'swap', (e) => refused(`policy module refused: ${messageOf(e)}`)],
  [Policy, 'load', (e) => refused(`policy module refused: ${messageOf(e)}`)],
]) {
  const f = target[name];
  Object.defineProperty(target, name, {
    value: async function guarded(...args) {
      try {
        return await f.apply(this, args);
      } catch (e) {
        return onError(e);
      }
    },
    writable: true,
    configurable: true,
  });
}

function hostFault(slot, message) {
  slot.threw = message;
  return new Error(message);
}

function mapOk(r, f) {
  return r.ok ? { ...r, value: f(r.value) } : r;
}

/**
 * Read a request and plan its call; `now` is the default clock (else the system's). An SSH key
 * credential is resolved through `sshKey` first: a key that is absent is an unreadable request
 * (`invalid-input`, as the SSH server never authenticates an unknown key); a read that failed
 * (threw, answered garbage or a promise, or went over `budget` ms, `spent()` so far) makes
 * the plan `failed`: the caller answers the policy-failure deny without asking the policy.
 */
function prepare(request, sshKey, now, alreadyRead, budget, spent) {
  try {
    const r = alreadyRead ? request : readRequest(request);
    let key;
    let failed;
    if (r.credential.kind === 'ssh-key') {
      try {
        key = sshKey(r.credential.id);
        if (isThenable(key)) throw new Error(dropped(key));
        if (spent() > budget) throw new Error(overBudget(spent(), budget));
        if (key != null) checkSshKey(key);
      } catch (e) {
        failed = `ssh key lookup failed: ${messageOf(e)}`;
      }
    }
    if (failed !== undefined) return ok({ ...planCall(r, { tag: 'anonymous' }, now ?? systemNow()), failed });
    const credential = witCredential(r.credential, () => key);
    return ok(planCall(r, credential, now ?? systemNow()));
  } catch (e) {
    if (e instanceof InputError) return invalidInput(e.message);
    throw e;
  }
}

// ---- known answers -------------------------------------------------------------------------

// The cases and their world are data shared with the Rust host (wit/known-answers.json).
const KAT = JSON.parse(readFileSync(new URL('../../../wit/known-answers.json', import.meta.url), 'utf8'));
const KAT_NOW = BigInt(KAT.now);
const KAT_USER = Object.freeze({ status: 'active', siteAdmin: false, visibility: 'public', organization: false });

/**
 * The known answers every sound policy gives (wit/known-answers.json, as
 * forge-authz/src/known.rs checks them): they catch a module that loads but decides wrongly
 * (an allow-everything build, a swapped reason table) before it serves. Returns `null` when
 * every answer is right, else what was wrong.
 */
function knownAnswers(p) {
  const issued = p.issue({
    owner: KAT.token.owner,
    name: KAT.token.name,
    scopes: KAT.token.scopes,
    repositories: [],
    owners: [],
    expires: KAT_NOW + BigInt(KAT.lifetime),
    now: KAT_NOW,
    creator: { tag: 'session', val: { name: KAT.token.owner, facts: KAT_USER } },
    existingNames: [],
    boundFacts: [],
    ip: undefined,
  });
  if (!issued.ok) return `mint refused: ${describeVariant(issued.error)}`;
  const record = issued.value.record;
  const repo = (path) =>
    Object.hasOwn(KAT.repositories, path)
      ? { ownerVisibility: 'public', private: KAT.repositories[path], kind: 'hosted', archived: false, role: 'none' }
      : undefined;
  const user = (n) => (KAT.users.includes(n) ? KAT_USER : undefined);
  const facts = {
    lookup(q) {
      const a = {};
      if (q.token !== undefined && q.token === record.id) a.token = tokenFactsFromRecord(record);
      if (a.token) a.owner = user(a.token.owner);
      if (q.account !== undefined) a.account = user(q.account);
      if (q.sudo !== undefined) a.sudo = user(q.sudo);
      if (q.repository !== undefined) a.repository = repo(q.repository);
      return a;
    },
    repositories: (paths) => paths.map(() => undefined),
  };
  const secret = issued.value.secret;
  const damaged = secret.length > 20 ? secret.slice(0, 20) + (secret[20] === 'A' ? 'B' : 'A') + secret.slice(21) : secret;
  const credentials = {
    anonymous: { tag: 'anonymous' },
    token: { tag: 'bearer', val: secret },
    'damaged-token': { tag: 'bearer', val: damaged },
  };
  for (const c of KAT.cases) {
    const r = {
      credential: credentials[c.credential],
      request: { tag: 'git', val: { transport: 'http', repository: c.repository, action: c.action } },
      now: KAT_NOW,
      explain: false,
    };
    const d = p.authorize(r, facts);
    if (!d.ok) return `${c.what}: ${describeVariant(d.error)}`;
    const got = d.value.verdict;
    if ((got.tag === 'allow') !== c.allow || got.val !== c.reason) {
      return `${c.what}: got ${got.tag === 'allow' ? 'allow' : 'deny'} ${got.val}`;
    }
  }
  return null;
}

