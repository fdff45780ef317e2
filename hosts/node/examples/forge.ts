// The few lines a TypeScript forge writes (README.md), type-checked by `npm run typecheck`.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { Policy, authorizeHttp, composeFacts, secretDigest, type FactAnswer, type Decided } from 'forge-authz';

// Your store: per-fact reads (names compare ASCII-case-insensitively; throw when a read fails).
interface Store {
  token(id: string): { owner: string; scopes: string[]; expires: number | null; revoked: number | null; tagHex: string } | undefined;
  user(name: string): { active: boolean; admin: boolean } | undefined;
  repo(path: string, viewer?: string): { private: boolean; role: 'none' | 'read' | 'write' | 'admin' } | undefined;
}
declare const store: Store;

const facts = composeFacts({
  token: (id) => {
    const t = store.token(id);
    if (!t) return undefined;
    const secret = secretDigest('hmac-tag', t.tagHex);
    if (!secret) throw new Error(`token ${id}: corrupt digest`); // never guess: fail closed
    return {
      owner: t.owner,
      scopes: t.scopes.join(','),
      child: false,
      rotated: false,
      expires: t.expires ?? undefined,
      revoked: t.revoked ?? undefined,
      secret,
    };
  },
  user: (name) => {
    const u = store.user(name);
    return u && { status: u.active ? 'active' : 'inactive', siteAdmin: u.admin, visibility: 'public', organization: false };
  },
  repository: (path, viewer) => {
    const r = store.repo(path, viewer);
    return r && { ownerVisibility: 'public', private: r.private, kind: 'hosted', archived: false, role: r.role };
  },
  namespace: () => undefined,
});

const loaded = await Policy.load({
  module: new Uint8Array(readFileSync('forge_authz_guest.wasm')),
  signature: readFileSync('forge_authz_guest.wasm.minisig', 'utf8'), // minisign -S -t 'forge-authz-module contract=… version=… sha256=…'
  config: JSON.parse(readFileSync('keys.json', 'utf8')), // {keys: [{id, secret: hex}], signing_key}
  trust: { publicKeys: [readFileSync('release.pub', 'utf8')] }, // the minisign public keys a module may be signed by
});
if (!loaded.ok) throw new Error(loaded.error.tag === 'module-refused' ? loaded.error.val : 'unexpected');
const policy = loaded.value;

// One decision, in the `forge-authz decide` format:
const d = policy.decide(facts, { credential: { bearer: 'fzpat_...' }, repository: 'alice/app.git', action: 'pull' });
if (d.ok && d.allow) {
  const decided: Decided = d;
  console.log(decided.user, decided.effects?.touchLastUsed);
}

// Or in front of every git route:
createServer((req, res) => authorizeHttp({ policy, facts })(req, res, () => res.end('ok'))).listen(8080);

// Hot swap, signature verified and checked before it serves; the old version keeps serving
// on refusal (unsigned, bad signature, untrusted or retired key, older version...):
const swapped = await policy.swap(new Uint8Array(readFileSync('v8.wasm')), { signature: readFileSync('v8.wasm.minisig', 'utf8') });
if (!swapped.ok) console.error(swapped.error.val);
console.log(policy.moduleTrust.module, policy.moduleTrust.version); // 'signed' 8n

const answer: FactAnswer = facts.lookup({ repository: 'alice/app', viewer: 'anonymous', registrant: false });
void answer;
