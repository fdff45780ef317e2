#!/usr/bin/env node
// `node examples/server.js [world.json] [port]`: a git smart-HTTP front door. Every
// `/<owner>/<repo>.git/...` request is decided by the policy from a world fixture before the
// (placeholder) git handler sees it: 401 with WWW-Authenticate, 403, 404, 400 and 503 are
// answered by the middleware. `kill -HUP <pid>` hot-swaps the policy module from
// FORGE_AUTHZ_POLICY (default: the one `cargo policy` built) with its signature
// FORGE_AUTHZ_POLICY.minisig, verified against the minisign public key in
// FORGE_AUTHZ_TRUSTED_KEY and checked before it serves (FORGE_AUTHZ_ALLOW_UNSIGNED=1:
// development, unsigned modules accepted and a warning printed).
//
//   curl -i http://127.0.0.1:8080/alice/app.git/info/refs?service=git-upload-pack

import { createServer } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { CARGO_POLICY_WASM, Policy, World, authorizeHttp } from '../index.js';

const worldPath = process.argv[2];
const port = Number(process.argv[3] ?? 8080);
const fixture = worldPath
  ? readFileSync(worldPath, 'utf8')
  : {
      keys: [{ id: 'k1', secret: '11'.repeat(32) }],
      signing_key: 'k1',
      users: [{ name: 'alice' }],
      repositories: [{ owner: 'alice', name: 'app' }, { owner: 'alice', name: 'secret', private: true }],
    };

const world = World.from(fixture);
if (!world.ok) throw new Error(world.error.val);
const trust = {
  publicKeys: process.env.FORGE_AUTHZ_TRUSTED_KEY ? [readFileSync(process.env.FORGE_AUTHZ_TRUSTED_KEY, 'utf8')] : [],
  allowUnsigned: process.env.FORGE_AUTHZ_ALLOW_UNSIGNED === '1',
};
const loaded = await Policy.load({ config: fixture, trust });
if (!loaded.ok) throw new Error(loaded.error.val);
const policy = loaded.value;

const guard = authorizeHttp({
  policy,
  facts: world.value,
  onDecision(req, decided) {
    // A forge records `touchLastUsed` for `decided.token` here (at most every 10 minutes).
    console.log(`${req.method} ${req.url} -> ${decided.value.status} ${decided.value.reason}${decided.user ? ` (${decided.user})` : ''}`);
  },
});

const server = createServer((req, res) =>
  guard(req, res, () => {
    res.setHeader('content-type', 'text/plain');
    res.end(`allowed: git would serve this to ${req.forgeAuthz?.user ?? 'anonymous'}\n`);
  }),
);

process.on('SIGHUP', async () => {
  const path = process.env.FORGE_AUTHZ_POLICY ?? CARGO_POLICY_WASM;
  const signature = existsSync(`${path}.minisig`) ? readFileSync(`${path}.minisig`, 'utf8') : undefined;
  const swapped = await policy.swap(new Uint8Array(readFileSync(path)), { signature });
  console.log(swapped.ok ? `policy swapped: ${swapped.value.previous.slice(0, 12)} -> ${swapped.value.sha256.slice(0, 12)}` : `swap refused, still serving ${policy.sha256.slice(0, 12)}: ${swapped.error.val}`);
});

server.listen(port, '127.0.0.1', () => console.log(`forge-authz example on http://127.0.0.1:${port} (module ${policy.sha256.slice(0, 12)}, pid ${process.pid})`));
