// IP allow lists (contract 0.6, issue 23) through the Node host: the world's and the boundary
// format's lists reach the policy (GitHub's organisation allow list, GitLab's "restrict access
// by IP address"), a token's own list too, the request's `client_address` decides, a fact
// source written before 0.6 (no list in its answers) has none, a malformed list is the
// policy-failure deny, and the middleware passes the TCP peer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World, boundaryFacts, composeFacts, peerAddressOf } from '../index.js';
import { worldAnswers } from '../lib/boundary.js';
import { WORLD, policy } from './fixture.js';

const p = await policy();
const users = WORLD.users.map((u) => (u.name === 'acme' ? { ...u, ip_allow: ['10.0.0.0/8'] } : u));
const world = new World({ ...structuredClone(WORLD), users });
const minted = p.mint(world, { owner: 'bob', name: 'ip', scopes: ['read:repository'], expires_in: 3600 });
assert.ok(minted.ok, JSON.stringify(minted.error));
const request = (client) => ({ credential: { bearer: minted.value.secret }, repository: 'acme/site', action: 'pull', client_address: client });
const outcome = (d) => (d.ok ? `${d.value.decision} ${d.value.reason}` : `error ${d.error.val}`);

test('an organisation list decides by the client address, from a world and from the boundary format', () => {
  for (const [name, facts] of [['world', world], ['boundaryFacts', boundaryFacts(worldAnswers(world))]]) {
    assert.equal(outcome(p.decide(facts, request('10.1.2.3'))), 'allow granted', name);
    assert.equal(outcome(p.decide(facts, request('127.0.0.1'))), 'deny ip-not-allowed', name);
    assert.equal(outcome(p.decide(facts, request(undefined))), 'deny ip-not-allowed', `${name}: no address`);
  }
});

test("a token's own list travels in its TokenDef", () => {
  const token = { ...structuredClone(world.tokens[0]), ip_allow: ['192.0.2.0/24'] };
  const answers = { ...worldAnswers(world), token: () => token };
  const open = { ...request('10.1.2.3'), repository: 'alice/app' };
  assert.equal(outcome(p.decide(boundaryFacts(answers), open)), 'deny ip-not-allowed');
  assert.equal(outcome(p.decide(boundaryFacts(answers), { ...open, client_address: '192.0.2.9' })), 'allow granted');
});

test('a source without lists has none; a malformed list fails the decision', () => {
  const plain = new World(structuredClone(WORLD));
  const old = composeFacts({
    token: (id) => plain.token(id) && (({ ipAllow: _, ...rest }) => rest)(plain.token(id)),
    user: (n) => plain.user(n),
    repository: (r, v) => plain.repository(r, v) && (({ ownerIpAllow: _, ...rest }) => rest)(plain.repository(r, v)),
    namespace: (n, v) => plain.namespace(n, v),
  });
  old.now = () => plain.now();
  const mintedPlain = p.mint(plain, { owner: 'bob', name: 'old', scopes: ['read:repository'], expires_in: 3600 });
  const req = { ...request('127.0.0.1'), credential: { bearer: mintedPlain.value.secret } };
  assert.equal(outcome(p.decide(old, req)), 'allow granted');
  const bad = { ...worldAnswers(world), repository: (r, v) => ({ ...worldAnswers(world).repository(r, v), owner_ip_allow: '10.0.0.0/8' }) };
  const d = p.decide(boundaryFacts(bad), request('10.1.2.3'));
  assert.equal(d.ok && `${d.value.status} ${d.value.reason}`, '503 policy-failure');
});

test('the middleware passes the TCP peer, IPv4-mapped as IPv4', () => {
  assert.equal(peerAddressOf({ socket: { remoteAddress: '::ffff:127.0.0.1' } }), '127.0.0.1');
  assert.equal(peerAddressOf({ socket: { remoteAddress: '2001:db8::1' } }), '2001:db8::1');
  assert.equal(peerAddressOf({ socket: {} }), undefined);
});
