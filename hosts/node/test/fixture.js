// A small world for the tests that need no corpus.
import { Policy, World } from '../index.js';

export const NOW = 1767225600;

export const WORLD = Object.freeze({
  now: NOW,
  keys: [
    { id: 'k1', secret: '11'.repeat(32) },
    { id: 'k0', secret: '22'.repeat(32) },
  ],
  signing_key: 'k1',
  users: [
    { name: 'alice', visibility: 'public' },
    { name: 'bob', visibility: 'public' },
    { name: 'acme', organization: true, visibility: 'public', members: { bob: 'write' } },
  ],
  repositories: [
    { owner: 'alice', name: 'app', collaborators: { bob: 'read' } },
    { owner: 'alice', name: 'secret', private: true },
    { owner: 'acme', name: 'site', protected_refs: [{ pattern: 'main', push: 'admins' }] },
  ],
  tokens: [],
});

export const world = () => new World(structuredClone(WORLD));

export async function policy() {
  const p = await Policy.load({ config: WORLD });
  if (!p.ok) throw new Error(`policy refused: ${p.error.val}`);
  return p.value;
}
