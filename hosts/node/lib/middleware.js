// HTTP enforcement: a decision → status, headers and body, and a connect-style middleware
// `(req, res, next)` for node:http servers (and Express, whose middleware has the same
// shape). Only an `allow` reaches `next()`; every other outcome, a policy failure and a
// request the host could not read included, is answered here.

import { POLICY_FAILURE_CODE, POLICY_FAILURE_STATUS } from './vocabulary.js';
import { policyFailure } from './util.js';

const REALM = 'forge-authz';

/**
 * The HTTP answer to a decision output (`forge-authz decide`'s JSON):
 * 200 → `{status: 200, allow: true}`; 401 → with `WWW-Authenticate` (Basic, which git
 * clients answer with a credential prompt, and Bearer with RFC 6750's `invalid_token` when a
 * presented token was refused); 403, 404, 400 and 503 with the policy's message. A 404 is the
 * same for a missing and a hidden repository: the body is the policy's uniform message. A
 * push allowed with some of its ref updates refused is a 403 with the first refused ref's
 * reason and message: the whole push is refused, as git http-backend cannot apply part of it.
 */
export function mapDecisionToHttp(output, { realm = REALM } = {}) {
  if (output && output.decision === 'allow' && output.status === 200) {
    // A push allowed with some ref updates refused ("push allowed; some ref updates are
    // refused"): an HTTP answer serves the whole push or none of it (git http-backend cannot
    // apply part of one), so it is refused with the first refused ref's reason and message.
    const refused = Array.isArray(output.refs) ? output.refs.find((r) => r?.decision !== 'allow') : undefined;
    if (refused === undefined) return { status: 200, allow: true, headers: {}, body: '' };
    if (typeof refused?.reason !== 'string') return mapDecisionToHttp({ status: POLICY_FAILURE_STATUS }, { realm });
    return mapDecisionToHttp({ decision: 'deny', status: 403, reason: refused.reason, message: refused.message }, { realm });
  }
  const status = [400, 401, 403, 404, POLICY_FAILURE_STATUS].includes(output?.status) ? output.status : POLICY_FAILURE_STATUS;
  const reason = typeof output?.reason === 'string' ? output.reason : POLICY_FAILURE_CODE;
  const headers = {
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
    'x-forge-authz-reason': reason,
  };
  if (status === 401) {
    const tokenRefused = reason !== 'authentication-required' && reason !== 'credential-not-allowed';
    headers['www-authenticate'] = [
      `Basic realm="${realm}", charset="UTF-8"`,
      tokenRefused ? `Bearer realm="${realm}", error="invalid_token"` : `Bearer realm="${realm}"`,
    ];
  }
  if (status === 503) headers['retry-after'] = '1';
  const message = output?.message || (status === 503 ? 'the authorization policy could not decide; access denied' : reason);
  return { status, allow: false, headers, body: `${message}\n` };
}

/** The credential of an HTTP request: `Authorization: Bearer|token|Basic`, else anonymous. */
export function credentialOf(req) {
  const h = req.headers?.authorization;
  if (typeof h !== 'string' || h === '') return 'anonymous';
  const sp = h.indexOf(' ');
  const scheme = (sp < 0 ? h : h.slice(0, sp)).toLowerCase();
  const rest = sp < 0 ? '' : h.slice(sp + 1).trim();
  if (scheme === 'bearer' || scheme === 'token') return { bearer: rest };
  if (scheme === 'basic') {
    const text = Buffer.from(rest, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    return colon < 0 ? { basic: { username: text, password: '' } } : { basic: { username: text.slice(0, colon), password: text.slice(colon + 1) } };
  }
  // An unknown scheme is presented as a bearer value: the policy refuses it as a token.
  return { bearer: h };
}

/** Tokens in the query string (`access_token`, `token`): presented too (two different ones conflict). */
export function alsoPresentedOf(url) {
  return ['access_token', 'token', 'private_token'].flatMap((k) => url.searchParams.getAll(k)).filter((t) => t !== '');
}

/**
 * The client address IP allow lists are checked with (contract 0.6): the TCP peer, an
 * IPv4-mapped IPv6 address read as IPv4. Behind a reverse proxy, pass `clientAddress` to
 * `authorizeHttp`: read the proxy's header only when the peer is that proxy (a client that
 * connects directly can write any header), rightmost address first.
 */
export function peerAddressOf(req) {
  const a = req.socket?.remoteAddress;
  if (typeof a !== 'string') return undefined;
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(a) ? a.slice(7) : a;
}

/**
 * Git smart HTTP routes → a request in the decide format (null: not a git route):
 * `GET /<owner>/<name>[.git]/info/refs?service=git-upload-pack|git-receive-pack`,
 * `POST /<owner>/<name>[.git]/git-upload-pack|git-receive-pack`.
 */
export function gitSmartHttp(req, url) {
  const m = /^\/([^/]+)\/([^/]+?)\/(info\/refs|git-upload-pack|git-receive-pack)$/.exec(url.pathname);
  if (!m) return null;
  let service = m[3];
  if (service === 'info/refs') service = url.searchParams.get('service') ?? 'git-upload-pack';
  if (service !== 'git-upload-pack' && service !== 'git-receive-pack') return null;
  let owner;
  let name;
  try {
    owner = decodeURIComponent(m[1]);
    name = decodeURIComponent(m[2]);
  } catch {
    return null;
  }
  return { kind: 'git', transport: 'http', repository: `${owner}/${name}`, action: service === 'git-receive-pack' ? 'push' : 'pull' };
}

/**
 * A connect-style middleware enforcing the policy on every request it sees.
 *
 * @param options.policy a `Policy`
 * @param options.facts a synchronous fact source (a `World`, or `composeFacts(...)`), or
 * @param options.asyncFacts one whose methods return promises (decided with `decideAsync`)
 * @param options.describe `(req, url) => request | null`: what the HTTP request asks, in
 *   the decide format without the credential (default `gitSmartHttp`); `null` passes the
 *   request on undecided (a route that is not the policy's)
 * @param options.onDecision `(req, decided) => void`: e.g. apply `decided.effects`
 *   (`touchLastUsed` for `decided.token`) or log
 * @param options.budgetMs the wall time one decision's fact reads may take (default 250)
 * @param options.clientAddress `(req) => string | undefined`: the client's address (default
 *   `peerAddressOf`, the TCP peer); `undefined` is unknown, refused wherever an IP allow list
 *   applies
 * On allow, `req.forgeAuthz` is `{output, user, token, effects, repository}` (`repository`:
 * the path as the store spells it, when the fact source says) and `next()` is called.
 */
export function authorizeHttp({ policy, facts, asyncFacts, describe = gitSmartHttp, onDecision, realm = REALM, budgetMs, clientAddress = peerAddressOf }) {
  if (!policy || (!facts && !asyncFacts)) throw new TypeError('authorizeHttp needs a policy and facts (or asyncFacts)');
  return function forgeAuthz(req, res, next) {
    const url = new URL(req.url ?? '/', 'http://forge.invalid');
    let described;
    try {
      described = describe(req, url);
    } catch (e) {
      return send(res, mapDecisionToHttp({ status: 400, reason: 'request-invalid', message: String(e?.message ?? e) }, { realm }));
    }
    if (described == null) return next();
    const request = { ...described, credential: credentialOf(req), also_presented: alsoPresentedOf(url), client_address: clientAddress(req) };
    const finish = (decided) => {
      if (!decided.ok) {
        // The host could not read the request: never an allow.
        const status = decided.error.tag === 'invalid-input' ? 400 : 503;
        return send(res, mapDecisionToHttp({ status, reason: status === 400 ? 'request-invalid' : POLICY_FAILURE_CODE, message: decided.error.val }, { realm }));
      }
      try {
        onDecision?.(req, decided);
      } catch {
        // a hook's failure does not change the decision
      }
      const answer = mapDecisionToHttp(Array.isArray(decided.value) ? { status: 503 } : decided.value, { realm });
      if (answer.allow && decided.allow) {
        req.forgeAuthz = { output: decided.value, user: decided.user, token: decided.token, effects: decided.effects, repository: decided.repository };
        return next();
      }
      return send(res, answer.allow ? mapDecisionToHttp({ status: 503 }, { realm }) : answer);
    };
    if (asyncFacts) {
      policy.decideAsync(asyncFacts, request, { budgetMs }).then(finish, (e) => finish(policyFailure(String(e?.message ?? e))));
    } else {
      finish(policy.decide(facts, request, { budgetMs }));
    }
  };
}

/** Express takes the same `(req, res, next)` middleware. */
export const expressAuthorize = authorizeHttp;

function send(res, answer) {
  for (const [k, v] of Object.entries(answer.headers)) res.setHeader(k, v);
  res.statusCode = answer.status;
  res.end(answer.body);
}
