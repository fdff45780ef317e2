#!/usr/bin/env node
// A forge's git-over-HTTP front end (docs/design/fact-sources.md §7 "Served examples"): every
// request decided by the policy with facts from the forge's own database, then served by
// `git http-backend`.
//
//   node examples/git-http.js REPOS_DIR FORGE.sqlite CONFIG.json [port]
//
// - The policy's guard is the package's own middleware (`authorizeHttp`): only an allow
//   reaches `git http-backend`; a deny is answered with its status (401 with a Basic
//   challenge, 403, 404, 400; 503 when the database or the policy failed).
// - A push (`POST .../git-receive-pack`) is decided with its ref updates, read from the
//   pkt-line commands at the head of the body, so a push to a protected branch is refused
//   before git runs; one refused ref update refuses the whole push (the middleware's
//   `mapDecisionToHttp`: git http-backend cannot apply part of a push).
// - The facts are read at the moment of the request (`schemaAnswers`): revoking or deleting a
//   token row holds from the next request, with nothing to flush.
// - The CGI bridge: the body is read with a bound (`MAX_BODY`), `git http-backend` runs with
//   `GIT_PROJECT_ROOT` and a timeout, and its answer is streamed back.

import { createServer } from 'node:http';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Policy, authorizeHttp, boundaryFacts } from '../index.js';
import { gitSmartHttp } from '../lib/middleware.js';
import { schemaAnswers, sqlJsDatabase } from './forge-schema.js';

const MAX_BODY = 64 << 20; // bytes a request may send
const BACKEND_TIMEOUT_MS = 60_000; // how long `git http-backend` may run

/** The ref updates at the head of a `git-receive-pack` body: pkt-lines `old new name` up to the flush packet. */
export function pushedRefs(body) {
  const refs = [];
  for (let at = 0; ; ) {
    const size = at + 4 <= body.length ? Number.parseInt(body.toString('latin1', at, at + 4), 16) : NaN;
    if (!Number.isInteger(size) || (size !== 0 && (size < 4 || at + size > body.length))) throw new Error('malformed push commands');
    if (size === 0) return refs;
    const line = body.toString('utf8', at + 4, at + size).split('\0', 1)[0].replace(/\n$/, '');
    at += size;
    if (line.startsWith('shallow ')) continue;
    const [old, neu, name, ...rest] = line.split(' ');
    if (name === undefined || rest.length > 0) throw new Error('malformed push command');
    refs.push({ name, old, new: neu });
  }
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('request body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * Run `git http-backend` for an allowed request and stream its answer back: from the
 * repository's directory as the store spells its path (`ALICE/App.git` asked, `alice/app.git`
 * served), never from the spelling of the URL.
 */
function backend(req, res, repos, body) {
  const url = new URL(req.url, 'http://forge.invalid');
  const endpoint = /\/(info\/refs|git-upload-pack|git-receive-pack)$/.exec(url.pathname)[0];
  const stored = req.forgeAuthz?.repository;
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    GIT_PROJECT_ROOT: repos,
    GIT_HTTP_EXPORT_ALL: '1',
    // The policy allowed this push: git's own REMOTE_USER check is not needed.
    GIT_CONFIG_COUNT: '1',
    GIT_CONFIG_KEY_0: 'http.receivepack',
    GIT_CONFIG_VALUE_0: 'true',
    REQUEST_METHOD: req.method,
    PATH_INFO: stored === undefined ? decodeURIComponent(url.pathname) : `/${stored}.git${endpoint}`,
    QUERY_STRING: url.search.slice(1),
    CONTENT_TYPE: req.headers['content-type'] ?? '',
    CONTENT_LENGTH: String(body.length),
    REMOTE_ADDR: req.socket.remoteAddress ?? '',
  };
  if (req.headers['content-encoding']) env.HTTP_CONTENT_ENCODING = req.headers['content-encoding'];
  if (req.headers['git-protocol']) env.GIT_PROTOCOL = req.headers['git-protocol'];
  const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'ignore'] });
  const timer = setTimeout(() => child.kill('SIGKILL'), BACKEND_TIMEOUT_MS);
  child.on('close', () => clearTimeout(timer));
  child.on('error', () => res.headersSent || ((res.statusCode = 502), res.end()));
  res.on('close', () => child.exitCode === null && child.kill('SIGKILL'));
  child.stdin.on('error', () => {});
  child.stdin.end(body);
  let head = Buffer.alloc(0);
  const onHead = (chunk) => {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n') >= 0 ? head.indexOf('\r\n\r\n') : head.indexOf('\n\n');
    if (end < 0) return;
    child.stdout.off('data', onHead);
    res.statusCode = 200;
    for (const line of head.toString('latin1', 0, end).split(/\r?\n/)) {
      const colon = line.indexOf(':');
      const [k, v] = [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
      if (k.toLowerCase() === 'status') res.statusCode = Number.parseInt(v, 10);
      else if (colon > 0) res.setHeader(k, v);
    }
    res.write(head.subarray(end + (head[end] === 13 ? 4 : 2)));
    child.stdout.pipe(res);
  };
  child.stdout.on('data', onHead);
}

/**
 * A git smart-HTTP server over `repos` (bare repositories `<owner>/<name>.git`), every request
 * decided by `policy` with `facts` (a sync source: `decide`) or `asyncFacts` (promises:
 * `decideAsync`). `onDecision(req, decided)` sees each decision; `budgetMs` bounds one
 * decision's reads (default 250).
 */
export function gitServer({ policy, facts, asyncFacts, repos, onDecision, budgetMs }) {
  const guard = authorizeHttp({
    policy,
    facts,
    asyncFacts,
    budgetMs,
    onDecision,
    describe(req, url) {
      const r = gitSmartHttp(req, url);
      if (r && req.method === 'POST' && r.action === 'push') r.refs = pushedRefs(req.body);
      return r;
    },
  });
  return createServer(async (req, res) => {
    try {
      req.body = req.method === 'POST' ? await readBody(req) : Buffer.alloc(0);
    } catch (e) {
      res.statusCode = 400;
      return res.end(`${e.message}\n`);
    }
    guard(req, res, () => backend(req, res, repos, req.body));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [repos, dbFile, configFile, port = '8080'] = process.argv.slice(2);
  if (!configFile) {
    console.error('usage: node examples/git-http.js REPOS_DIR FORGE.sqlite CONFIG.json [port]');
    process.exit(2);
  }
  const { default: initSqlJs } = await import('sql.js');
  const SQL = await initSqlJs();
  const database = new SQL.Database(readFileSync(dbFile));
  database.exec('PRAGMA locking_mode = EXCLUSIVE'); // one connection: no lock per statement
  const loaded = await Policy.load({ config: readFileSync(configFile, 'utf8') });
  if (!loaded.ok) throw new Error(loaded.error.val);
  const server = gitServer({
    policy: loaded.value,
    facts: boundaryFacts(schemaAnswers(sqlJsDatabase(database))),
    repos,
    onDecision: (req, d) => console.log(`${req.method} ${req.url} -> ${d.value.status} ${d.value.reason}`),
  });
  server.listen(Number(port), '127.0.0.1', () => console.log(`git over HTTP on http://127.0.0.1:${port}`));
}
