//! `forge-authz serve`: a git smart-HTTP server whose every request is decided by the
//! policy, a forward-auth endpoint for reverse proxies, and hot swap of the policy module.
//!
//! - Git: `GET /{owner}/{repo}.git/info/refs?service=...` and `POST .../git-upload-pack`,
//!   `.../git-receive-pack`, served by `git http-backend` (CGI) from `--repos` once the
//!   policy allows. Pushes are decided per ref by git's `update` hook, which asks this
//!   server over a private Unix socket (the secret never leaves the server process).
//! - Forward auth: `GET /-/auth` with `X-Forwarded-Method` and `X-Forwarded-Uri` (Traefik)
//!   or `X-Original-Method` and `X-Original-URI` (nginx `auth_request`), and the client's
//!   `Authorization`.
//! - Admin (loopback peers only): `POST /-/admin/reload` (body: a module path, or empty to
//!   reload the current one), `GET /-/admin/status`.
//!
//! The host enforces and logs; it never decides. Logs carry the reason code, never a
//! credential.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read, Write as _};
use std::net::SocketAddr;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use base64::Engine as _;
use tiny_http::{Header, Request, Response, Server};

use crate::lifecycle::{self, Actor, StoreFacts};
use crate::live::{LivePolicy, Worker};
use crate::policy::Limits;
use crate::request::{
    ActionDef, CredentialDef, KindDef, Outcome, RefUpdateDef, RequestDef, authorize,
    failure_decision,
};
use crate::store::Store;
use crate::wit;

/// Server settings.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Token database.
    pub db: PathBuf,
    /// Directory of bare repositories, `owner/name.git`.
    pub repos: PathBuf,
    /// Address to listen on.
    pub listen: String,
    /// Worker threads (each with its own warm policy instance).
    pub workers: usize,
    /// Policy module.
    pub policy: PathBuf,
    /// Per-call limits.
    pub limits: Limits,
    /// Private directory for the hook socket and hooks.
    pub state: PathBuf,
    /// Write the bound port here once listening.
    pub port_file: Option<PathBuf>,
}

/// Counters exposed by `/-/admin/status`.
#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    allowed: AtomicU64,
    denied: AtomicU64,
    failures: AtomicU64,
    reloads: AtomicU64,
    refused_reloads: AtomicU64,
    shadow_requests: AtomicU64,
    shadow_differences: AtomicU64,
}

struct PushContext {
    request: RequestDef,
}

struct Shared {
    config: ServeConfig,
    live: Arc<LivePolicy>,
    counters: Counters,
    pushes: Mutex<HashMap<String, PushContext>>,
    hooks_dir: PathBuf,
    socket: PathBuf,
    git: PathBuf,
}

fn header(name: &str, value: &str) -> Option<Header> {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
}

fn get_header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers()
        .iter()
        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

/// The credential in an `Authorization` header (absent or unreadable: anonymous; a
/// non-UTF-8 or malformed Basic header is passed on as an empty bearer, which the policy
/// refuses as `token-invalid`).
pub fn credential_from_header(value: Option<&str>) -> CredentialDef {
    let Some(v) = value.map(str::trim) else {
        return CredentialDef::Anonymous;
    };
    let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
    if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token") {
        return CredentialDef::Bearer(rest.trim().to_string());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        return match decoded.as_deref().and_then(|s| s.split_once(':')) {
            Some((u, p)) => CredentialDef::Basic {
                username: u.to_string(),
                password: p.to_string(),
            },
            None => CredentialDef::Bearer(String::new()),
        };
    }
    CredentialDef::Bearer(String::new())
}

/// What a git smart-HTTP URL asks: (repository path, action, the CGI path).
pub fn parse_git_url(method: &str, url: &str) -> Option<(String, ActionDef)> {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let path = path.strip_prefix('/')?;
    let (repo, rest) = if let Some(i) = path.find(".git/") {
        (path.get(..i)?, path.get(i + 5..)?)
    } else {
        let mut it = path.splitn(3, '/');
        let (o, n, r) = (it.next()?, it.next()?, it.next()?);
        let len = o.len() + 1 + n.len();
        let _ = r;
        (path.get(..len)?, path.get(len + 1..)?)
    };
    let service = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("service="))
        .unwrap_or("");
    let action = match (method, rest, service) {
        ("GET", "info/refs", "git-upload-pack") => ActionDef::Pull,
        ("GET", "info/refs", "git-receive-pack") => ActionDef::Push,
        ("POST", "git-upload-pack", _) => ActionDef::Pull,
        ("POST", "git-receive-pack", _) => ActionDef::Push,
        _ => return None,
    };
    Some((repo.to_string(), action))
}

fn is_loopback(addr: Option<&SocketAddr>) -> bool {
    addr.is_some_and(|a| a.ip().is_loopback())
}

fn respond(req: Request, status: u16, headers: Vec<Header>, body: String) {
    let mut r = Response::from_string(body).with_status_code(status);
    for h in headers {
        r.add_header(h);
    }
    let _ = req.respond(r);
}

fn log(method: &str, path: &str, status: u16, reason: &str, principal: &str) {
    // The query string is dropped: tokens must never reach a log, even misplaced ones.
    let path = path.split('?').next().unwrap_or("");
    eprintln!("forge-authz: {method} {path} {status} reason={reason} principal={principal}");
}

impl Shared {
    fn decide(&self, worker: &mut Worker, req: &RequestDef) -> wit::Decision {
        let outcome = Store::open(&self.config.db).and_then(|mut store| {
            let now = crate::world::system_now();
            let facts = StoreFacts::new(&store)?;
            let live = match worker.policy() {
                Some(policy) => match authorize(policy, &facts, req, now)? {
                    Outcome::Decision(d) => d,
                    _ => failure_decision(&crate::PolicyFailure("unexpected outcome".into())),
                },
                None => failure_decision(&crate::PolicyFailure("no policy instance".into())),
            };
            // Shadow: the candidate decides the same request on the same facts; only the
            // live decision is enforced, and the candidate's effects are never applied.
            if let Some(shadow) = worker.shadow()
                && let Ok(Outcome::Decision(s)) = authorize(shadow, &facts, req, now)
            {
                self.counters.shadow_requests.fetch_add(1, Ordering::Relaxed);
                if (s.allow, s.status, s.reason) != (live.allow, live.status, live.reason) {
                    self.counters.shadow_differences.fetch_add(1, Ordering::Relaxed);
                    let path = req.repository.as_deref().unwrap_or("-");
                    eprintln!(
                        "forge-authz: SHADOW difference on {path}: live {} {} ({}), shadow {} {} ({})",
                        if live.allow { "allow" } else { "deny" },
                        live.status.http(),
                        live.reason.code(),
                        if s.allow { "allow" } else { "deny" },
                        s.status.http(),
                        s.reason.code()
                    );
                }
            }
            drop(facts);
            if let Some(policy) = worker.policy() {
                let who = Actor {
                    name: "policy".into(),
                    ip: None,
                    now,
                };
                lifecycle::apply_effects(policy, &mut store, &live.effects, &who)?;
            }
            Ok(live)
        });
        match outcome {
            Ok(d) => d,
            // Store or request failures deny, like a trap.
            Err(e) => failure_decision(&crate::PolicyFailure(format!("{e:#}"))),
        }
    }

    fn count(&self, d: &wit::Decision) {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        if d.allow {
            self.counters.allowed.fetch_add(1, Ordering::Relaxed);
        } else {
            self.counters.denied.fetch_add(1, Ordering::Relaxed);
        }
        if d.reason == wit::Reason::PolicyFailure {
            self.counters.failures.fetch_add(1, Ordering::Relaxed);
            // Operators need the cause; it never holds a credential.
            eprintln!(
                "forge-authz: policy failure: {}",
                d.detail.as_deref().unwrap_or("-")
            );
        }
    }

    fn deny(&self, req: Request, d: &wit::Decision) {
        let status = d.status.http();
        let mut headers: Vec<Header> = Vec::new();
        headers.extend(header("X-Forge-Authz-Reason", d.reason.code()));
        headers.extend(header("Content-Type", "text/plain; charset=utf-8"));
        if status == 401 {
            headers.extend(header("WWW-Authenticate", "Basic realm=\"forge-authz\""));
        }
        // One readable line: git shows it to the user.
        respond(
            req,
            status,
            headers,
            format!("forge-authz: {} ({})\n", d.message, d.reason.code()),
        );
    }

    fn handle(&self, worker: &mut Worker, mut req: Request) {
        let method = req.method().as_str().to_string();
        let url = req.url().to_string();
        let peer = req.remote_addr().copied();
        if url == "/-/auth" || url.starts_with("/-/auth?") {
            return self.forward_auth(worker, req);
        }
        if url.starts_with("/-/admin/") {
            if !is_loopback(peer.as_ref()) {
                log(&method, &url, 403, "admin-loopback-only", "-");
                return respond(
                    req,
                    403,
                    vec![],
                    "admin endpoints answer loopback peers only\n".into(),
                );
            }
            return self.admin(req, &method, &url);
        }
        let Some((repo, action)) = parse_git_url(&method, &url) else {
            log(&method, &url, 404, "not-a-git-url", "-");
            return respond(req, 404, vec![], "not found\n".into());
        };
        let credential = credential_from_header(get_header(&req, "Authorization"));
        let request = RequestDef {
            credential,
            kind: KindDef::Git,
            repository: Some(repo.clone()),
            action: Some(action),
            ..RequestDef::default()
        };
        let d = self.decide(worker, &request);
        self.count(&d);
        let principal = principal_name(&request.credential, &d);
        log(&method, &url, d.status.http(), d.reason.code(), &principal);
        if !d.allow {
            return self.deny(req, &d);
        }
        // Allowed: hand the request to git. A push gets a one-time id the update hook
        // presents to ask for each ref.
        let push_id = (action == ActionDef::Push && method == "POST").then(|| {
            let id = random_id();
            if let Ok(mut p) = self.pushes.lock() {
                p.insert(
                    id.clone(),
                    PushContext {
                        request: request.clone(),
                    },
                );
            }
            id
        });
        let result = self.cgi(
            &mut req,
            &method,
            &url,
            &repo,
            &principal,
            push_id.as_deref(),
        );
        match result {
            // `respond` streams git's output to the end: the push (and its hooks) is over
            // when it returns.
            Ok(resp) => {
                let _ = req.respond(resp);
            }
            Err(e) => {
                eprintln!("forge-authz: git http-backend failed: {e:#}");
                respond(req, 500, vec![], "internal error\n".into());
            }
        }
        if let Some(id) = push_id
            && let Ok(mut p) = self.pushes.lock()
        {
            p.remove(&id);
        }
    }

    fn cgi(
        &self,
        req: &mut Request,
        method: &str,
        url: &str,
        repo: &str,
        principal: &str,
        push_id: Option<&str>,
    ) -> anyhow::Result<Response<Box<dyn Read + Send>>> {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        // Normalise to `owner/name.git/...` under the project root.
        let rest = path
            .strip_prefix('/')
            .and_then(|p| p.strip_prefix(repo))
            .map(|r| r.strip_prefix(".git").unwrap_or(r))
            .unwrap_or("");
        let mut cmd = Command::new(&self.git);
        cmd.arg("http-backend")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("GIT_PROJECT_ROOT", &self.config.repos)
            .env("GIT_HTTP_EXPORT_ALL", "1")
            .env("PATH_INFO", format!("/{repo}.git{rest}"))
            .env("REQUEST_METHOD", method)
            .env("QUERY_STRING", query)
            .env("REMOTE_USER", principal)
            .env("GIT_CONFIG_COUNT", "2")
            .env("GIT_CONFIG_KEY_0", "core.hooksPath")
            .env("GIT_CONFIG_VALUE_0", &self.hooks_dir)
            .env("GIT_CONFIG_KEY_1", "safe.directory")
            .env("GIT_CONFIG_VALUE_1", "*")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (h, var) in [
            ("Content-Type", "CONTENT_TYPE"),
            ("Content-Length", "CONTENT_LENGTH"),
            ("Content-Encoding", "HTTP_CONTENT_ENCODING"),
            ("Git-Protocol", "GIT_PROTOCOL"),
        ] {
            if let Some(v) = get_header(req, h) {
                cmd.env(var, v);
            }
        }
        if let Some(id) = push_id {
            cmd.env("FORGE_AUTHZ_PUSH", id)
                .env("FORGE_AUTHZ_HOOK_SOCKET", &self.socket);
        }
        let mut child = cmd.spawn().context("spawning git http-backend")?;
        let mut stdin = child.stdin.take().context("no stdin")?;
        let mut body = Vec::new();
        req.as_reader().read_to_end(&mut body)?;
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&body);
        });
        let stdout = child.stdout.take().context("no stdout")?;
        let mut reader = BufReader::new(stdout);
        let mut status = 200u16;
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                break;
            }
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                let v = v.trim();
                if k.eq_ignore_ascii_case("Status") {
                    status = v
                        .split(' ')
                        .next()
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(500);
                } else {
                    headers.extend(header(k, v));
                }
            }
        }
        let _ = writer.join();
        // Reap the child in the background once its output is consumed.
        let body: Box<dyn Read + Send> = Box::new(ChildReader {
            reader,
            child: Some(child),
        });
        Ok(Response::new(status.into(), headers, body, None, None))
    }

    fn forward_auth(&self, worker: &mut Worker, req: Request) {
        let method = get_header(&req, "X-Forwarded-Method")
            .or_else(|| get_header(&req, "X-Original-Method"))
            .unwrap_or("GET")
            .to_string();
        let uri = get_header(&req, "X-Forwarded-Uri")
            .or_else(|| get_header(&req, "X-Original-URI"))
            .unwrap_or("")
            .to_string();
        let Some((repo, action)) = parse_git_url(&method, &uri) else {
            log("AUTH", &uri, 400, "request-invalid", "-");
            return respond(
                req,
                400,
                vec![],
                "forge-authz: not a git smart-HTTP request (request-invalid)\n".into(),
            );
        };
        let request = RequestDef {
            credential: credential_from_header(get_header(&req, "Authorization")),
            kind: KindDef::Git,
            repository: Some(repo),
            action: Some(action),
            ..RequestDef::default()
        };
        let d = self.decide(worker, &request);
        self.count(&d);
        let principal = principal_name(&request.credential, &d);
        log("AUTH", &uri, d.status.http(), d.reason.code(), &principal);
        if !d.allow {
            return self.deny(req, &d);
        }
        let mut headers = Vec::new();
        headers.extend(header("X-Forge-Authz-Reason", d.reason.code()));
        headers.extend(header("X-Forge-Authz-User", &principal));
        respond(req, 200, headers, String::new());
    }

    fn admin(&self, mut req: Request, method: &str, url: &str) {
        match (method, url) {
            ("POST", "/-/admin/reload") => {
                let mut body = String::new();
                let _ = req.as_reader().take(4096).read_to_string(&mut body);
                let path = match body.trim() {
                    "" => crate::live::source_of(&self.live.current()),
                    p => PathBuf::from(p),
                };
                match self.live.reload(&path) {
                    Ok(g) => {
                        self.counters.reloads.fetch_add(1, Ordering::Relaxed);
                        eprintln!(
                            "forge-authz: published {} as generation {g}",
                            path.display()
                        );
                        respond(req, 200, vec![], format!("{{\"generation\":{g}}}\n"));
                    }
                    Err(e) => {
                        self.counters
                            .refused_reloads
                            .fetch_add(1, Ordering::Relaxed);
                        eprintln!("forge-authz: refused {}: {e}", path.display());
                        let body = serde_json::json!({"refused": e.0, "generation": self.live.generation()});
                        respond(req, 409, vec![], format!("{body}\n"));
                    }
                }
            }
            ("POST", "/-/admin/shadow") => {
                let mut body = String::new();
                let _ = req.as_reader().take(4096).read_to_string(&mut body);
                let path = body.trim();
                let result = if path.is_empty() {
                    self.live.set_shadow(None)
                } else {
                    self.live.set_shadow(Some(Path::new(path)))
                };
                match result {
                    Ok(g) => {
                        eprintln!(
                            "forge-authz: shadow generation {g} ({})",
                            if path.is_empty() { "off" } else { path }
                        );
                        respond(req, 200, vec![], format!("{{\"shadow_generation\":{g}}}\n"));
                    }
                    Err(e) => {
                        let body = serde_json::json!({"refused": e.0});
                        respond(req, 409, vec![], format!("{body}\n"));
                    }
                }
            }
            ("POST", "/-/admin/promote") => match self.live.promote() {
                Ok(g) => {
                    self.counters.reloads.fetch_add(1, Ordering::Relaxed);
                    eprintln!("forge-authz: promoted the shadow module as generation {g}");
                    respond(req, 200, vec![], format!("{{\"generation\":{g}}}\n"));
                }
                Err(e) => respond(
                    req,
                    409,
                    vec![],
                    format!("{}\n", serde_json::json!({"refused": e.0})),
                ),
            },
            ("GET", "/-/admin/status") => {
                let c = &self.counters;
                let p = self.live.current();
                let body = serde_json::json!({
                    "generation": p.generation,
                    "policy": crate::live::source_of(&p),
                    "requests": c.requests.load(Ordering::Relaxed),
                    "allowed": c.allowed.load(Ordering::Relaxed),
                    "denied": c.denied.load(Ordering::Relaxed),
                    "policy_failures": c.failures.load(Ordering::Relaxed),
                    "reloads": c.reloads.load(Ordering::Relaxed),
                    "refused_reloads": c.refused_reloads.load(Ordering::Relaxed),
                    "shadow": self.live.shadow().map(|s| crate::live::source_of(&s)),
                    "shadow_requests": c.shadow_requests.load(Ordering::Relaxed),
                    "shadow_differences": c.shadow_differences.load(Ordering::Relaxed),
                });
                respond(req, 200, vec![], format!("{body}\n"));
            }
            _ => respond(req, 404, vec![], "not found\n".into()),
        }
    }

    /// One update-hook question: may this ref update be applied?
    fn hook(&self, worker: &mut Worker, line: &str) -> String {
        let answer = |allow: bool, message: &str| {
            serde_json::json!({"allow": allow, "message": message}).to_string()
        };
        let Ok(q) = serde_json::from_str::<serde_json::Value>(line) else {
            return answer(false, "malformed hook request");
        };
        let field = |k: &str| {
            q.get(k)
                .and_then(serde_json::Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let push = field("push");
        let Some(mut request) = self
            .pushes
            .lock()
            .ok()
            .and_then(|p| p.get(&push).map(|c| c.request.clone()))
        else {
            return answer(false, "unknown push");
        };
        request.refs = vec![RefUpdateDef {
            name: field("ref"),
            old: field("old"),
            new: field("new"),
            force: q
                .get("force")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(true),
        }];
        let d = self.decide(worker, &request);
        let verdict = d.refs.first();
        let allow = d.allow && verdict.is_some_and(|v| v.allow);
        let (reason, message) = match verdict {
            Some(v) if !allow => (v.reason.code(), v.message.clone()),
            _ => (d.reason.code(), d.message.clone()),
        };
        log(
            "HOOK",
            &field("ref"),
            if allow { 200 } else { 403 },
            reason,
            &principal_name(&request.credential, &d),
        );
        answer(allow, &format!("{message} ({reason})"))
    }
}

/// A child's stdout that reaps the child when dropped.
struct ChildReader {
    reader: BufReader<std::process::ChildStdout>,
    child: Option<std::process::Child>,
}

impl Read for ChildReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.reader.read(buf)
    }
}

impl Drop for ChildReader {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
    }
}

fn principal_name(c: &CredentialDef, d: &wit::Decision) -> String {
    if !d.allow {
        return "-".into();
    }
    match c {
        CredentialDef::Anonymous => "anonymous".into(),
        // The token's owner is not known to the host without a lookup; the decision
        // allowed, so name the credential kind.
        CredentialDef::Basic { username, password }
            if !username.is_empty() && !username.starts_with("fzpat_") && !password.is_empty() =>
        {
            username.clone()
        }
        _ => "token".into(),
    }
}

fn random_id() -> String {
    let mut b = [0u8; 16];
    let _ = getrandom::fill(&mut b);
    hex::encode(b)
}

fn hook_script(bin: &Path) -> String {
    format!(
        "#!/bin/sh\n# Installed by forge-authz serve: asks the server about each ref update.\nexec '{}' hook update \"$@\"\n",
        bin.display().to_string().replace('\'', "'\\''")
    )
}

/// Run the server until the process is killed.
pub fn serve(config: ServeConfig) -> anyhow::Result<()> {
    let store = Store::open(&config.db)?;
    let world = store.export_world()?;
    drop(store);
    let live = LivePolicy::start(&config.policy, world.config()?, config.limits)
        .map_err(|e| anyhow::anyhow!("the policy module was refused: {e}"))?;
    std::fs::create_dir_all(&config.state)?;
    // Absolute paths: git runs the hook from inside the repository, where a relative
    // hooks path would silently find no hook (and skip the per-ref decisions).
    let mut config = config;
    config.state = std::fs::canonicalize(&config.state)?;
    let hooks_dir = config.state.join("hooks");
    std::fs::create_dir_all(&hooks_dir)?;
    let bin = std::env::current_exe()?;
    let hook = hooks_dir.join("update");
    std::fs::write(&hook, hook_script(&bin))?;
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755))?;
        std::fs::set_permissions(&config.state, std::fs::Permissions::from_mode(0o700))?;
    }
    let socket = config.state.join("hook.sock");
    let _ = std::fs::remove_file(&socket);
    let listener = UnixListener::bind(&socket)?;
    let git = PathBuf::from("git");
    let server = Server::http(&config.listen)
        .map_err(|e| anyhow::anyhow!("listening on {}: {e}", config.listen))?;
    let port = server.server_addr().to_ip().map(|a| a.port()).unwrap_or(0);
    let shared = Arc::new(Shared {
        config: config.clone(),
        live: Arc::new(live),
        counters: Counters::default(),
        pushes: Mutex::new(HashMap::new()),
        hooks_dir,
        socket,
        git,
    });
    // Hook questions.
    {
        let shared = shared.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let shared = shared.clone();
                std::thread::spawn(move || hook_connection(&shared, conn));
            }
        });
    }
    eprintln!(
        "forge-authz: serving {} on http://{}:{port}",
        config.repos.display(),
        config.listen.split(':').next().unwrap_or("127.0.0.1")
    );
    if let Some(f) = &config.port_file {
        std::fs::write(f, port.to_string())?;
    }
    let server = Arc::new(server);
    let mut threads = Vec::new();
    for _ in 0..config.workers.max(1) {
        let (server, shared) = (server.clone(), shared.clone());
        threads.push(std::thread::spawn(move || {
            let mut worker = Worker::new(shared.live.clone());
            while let Ok(req) = server.recv() {
                shared.handle(&mut worker, req);
            }
        }));
    }
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}

fn hook_connection(shared: &Shared, conn: UnixStream) {
    let mut worker = Worker::new(shared.live.clone());
    let Ok(read_half) = conn.try_clone() else {
        return;
    };
    let mut out = conn;
    for line in BufReader::new(read_half).lines().map_while(Result::ok) {
        let answer = shared.hook(&mut worker, &line);
        if writeln!(out, "{answer}").is_err() {
            break;
        }
    }
}

/// `forge-authz hook update <ref> <old> <new>`: git's update hook. Asks the server and
/// exits 0 (apply) or 1 (refuse, with the reason on stderr, which git shows as `remote:`).
pub fn hook_update(refname: &str, old: &str, new: &str) -> u8 {
    let (Some(push), Some(socket)) = (
        std::env::var_os("FORGE_AUTHZ_PUSH"),
        std::env::var_os("FORGE_AUTHZ_HOOK_SOCKET"),
    ) else {
        eprintln!("forge-authz: this push was not authorized by forge-authz serve; refusing");
        return 1;
    };
    let zero = |s: &str| !s.is_empty() && s.bytes().all(|b| b == b'0');
    // Fast-forward check inside the receive-pack (the new objects are in quarantine and
    // visible to git here). Unknown: assume a force-push (fail closed).
    let force = if zero(old) || zero(new) {
        false
    } else {
        !Command::new("git")
            .args(["merge-base", "--is-ancestor", old, new])
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    let q = serde_json::json!({
        "push": push.to_string_lossy(),
        "ref": refname,
        "old": old,
        "new": new,
        "force": force,
    });
    let answer = UnixStream::connect(&socket).and_then(|mut s| {
        writeln!(s, "{q}")?;
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line)?;
        Ok(line)
    });
    let Ok(line) = answer else {
        eprintln!("forge-authz: cannot reach the authorization server; refusing {refname}");
        return 1;
    };
    let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap_or_default();
    let message = v
        .get("message")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("refused");
    if v.get("allow").and_then(serde_json::Value::as_bool) == Some(true) {
        0
    } else {
        eprintln!("forge-authz: {refname}: {message}");
        1
    }
}

/// A minimal HTTP/1.1 client for the admin endpoints (`forge-authz reload`).
pub fn admin_request(
    server: &str,
    method: &str,
    path: &str,
    body: &str,
) -> anyhow::Result<(u16, String)> {
    let addr = server
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let mut s =
        std::net::TcpStream::connect(&addr).with_context(|| format!("connecting to {addr}"))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let status = resp
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn git_urls() {
        assert_eq!(
            parse_git_url("GET", "/alice/app.git/info/refs?service=git-upload-pack"),
            Some(("alice/app".into(), ActionDef::Pull))
        );
        assert_eq!(
            parse_git_url("GET", "/alice/app/info/refs?service=git-receive-pack"),
            Some(("alice/app".into(), ActionDef::Push))
        );
        assert_eq!(
            parse_git_url("POST", "/alice/app.git/git-receive-pack"),
            Some(("alice/app".into(), ActionDef::Push))
        );
        assert_eq!(
            parse_git_url("GET", "/alice/app.git/info/refs"),
            None,
            "dumb HTTP is not served"
        );
        assert_eq!(parse_git_url("GET", "/alice/app.git/HEAD"), None);
        assert_eq!(
            parse_git_url("POST", "/alice/../x.git/git-upload-pack").map(|x| x.0),
            Some("alice/../x".into()),
            "the policy refuses the path"
        );
    }

    #[test]
    fn authorization_headers() {
        assert_eq!(credential_from_header(None), CredentialDef::Anonymous);
        assert_eq!(
            credential_from_header(Some("Bearer abc")),
            CredentialDef::Bearer("abc".into())
        );
        let b = base64::engine::general_purpose::STANDARD.encode("alice:secret");
        assert_eq!(
            credential_from_header(Some(&format!("Basic {b}"))),
            CredentialDef::Basic {
                username: "alice".into(),
                password: "secret".into()
            }
        );
        assert_eq!(
            credential_from_header(Some("Basic !!!")),
            CredentialDef::Bearer(String::new())
        );
        assert_eq!(
            credential_from_header(Some("Negotiate x")),
            CredentialDef::Bearer(String::new())
        );
    }
}

/// `forge-authz ssh-keys`: OpenSSH's `AuthorizedKeysCommand`. Prints the key line with a
/// forced command when the offered key (`%t %k`) is a known user or deploy key, nothing
/// otherwise (sshd then refuses the key).
pub fn ssh_keys(
    db: &Path,
    repos: &Path,
    key_type: &str,
    key_blob: &str,
) -> anyhow::Result<Option<String>> {
    let world = Store::open(db)?.export_world()?;
    let found = world.ssh_keys.iter().find(|k| {
        k.public_key.as_deref().is_some_and(|line| {
            let mut parts = line.split_whitespace();
            parts.next() == Some(key_type) && parts.next() == Some(key_blob)
        })
    });
    let Some(k) = found else { return Ok(None) };
    let safe = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    };
    if !safe(&k.id)
        || !safe(key_type)
        || !key_blob
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
    {
        return Ok(None);
    }
    let quote = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', "'\\''"));
    let bin = std::env::current_exe()?;
    let command = format!(
        "{} git-shell --db {} --repos {} --key {}",
        quote(&bin),
        quote(&std::fs::canonicalize(db)?),
        quote(&std::fs::canonicalize(repos)?),
        k.id
    );
    // `restrict`: no forwarding, no pty, no rc; the key can only run the forced command.
    Ok(Some(format!(
        "command=\"{}\",restrict {key_type} {key_blob}",
        command.replace('"', "\\\"")
    )))
}

/// Parse `SSH_ORIGINAL_COMMAND`: exactly `git-upload-pack '<owner>/<name>[.git]'` or
/// `git-receive-pack ...` (quotes optional). One leading `/` is the namespace root, as
/// `ssh://` URLs send it; any other absolute or longer path, `..`, extra arguments, shell
/// syntax and every other command are refused.
pub fn parse_ssh_command(cmd: &str) -> Result<(ActionDef, String), String> {
    let cmd = cmd.trim();
    let (verb, arg) = cmd
        .split_once(' ')
        .ok_or("a git command needs a repository")?;
    let action = match verb {
        "git-upload-pack" => ActionDef::Pull,
        "git-receive-pack" => ActionDef::Push,
        _ => {
            return Err(format!(
                "`{verb}` is not allowed: only git-upload-pack and git-receive-pack"
            ));
        }
    };
    let arg = arg.trim();
    let path = match arg.strip_prefix('\'').and_then(|a| a.strip_suffix('\'')) {
        Some(inner) => inner,
        None => arg,
    };
    if path.contains(['\'', '"', ' ', '\\', '\0', '\n', ';', '&', '|', '$', '`']) {
        return Err("one repository path only, without shell syntax".into());
    }
    let path = path.strip_prefix('/').unwrap_or(path);
    if path.starts_with('/') {
        return Err("the repository must be `owner/name`".into());
    }
    let path = path.strip_suffix(".git").unwrap_or(path);
    let parts: Vec<&str> = path.split('/').collect();
    let ok = parts.len() == 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && *p != "."
                && *p != ".."
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        });
    if !ok {
        return Err("the repository must be `owner/name`".into());
    }
    Ok((action, path.to_string()))
}

/// `forge-authz git-shell --key ID`: the forced command of an SSH key. Decides the
/// request, then runs git; for a push, answers the update hook per ref.
pub fn git_shell(
    policy_path: &Path,
    limits: Limits,
    db: &Path,
    repos: &Path,
    key: &str,
) -> anyhow::Result<u8> {
    let Some(original) = std::env::var_os("SSH_ORIGINAL_COMMAND") else {
        eprintln!("forge-authz: interactive logins are not allowed; use git");
        return Ok(1);
    };
    let (action, repo) = match parse_ssh_command(&original.to_string_lossy()) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("forge-authz: {e}");
            return Ok(1);
        }
    };
    let store = Store::open(db)?;
    let world = store.export_world()?;
    drop(store);
    let module = crate::policy::PolicyModule::load(policy_path, limits)?;
    let live = Arc::new(LivePolicy::from_module(module, world.config()?));
    let shared = Shared {
        config: ServeConfig {
            db: db.to_path_buf(),
            repos: repos.to_path_buf(),
            listen: String::new(),
            workers: 1,
            policy: policy_path.to_path_buf(),
            limits,
            state: PathBuf::new(),
            port_file: None,
        },
        live: live.clone(),
        counters: Counters::default(),
        pushes: Mutex::new(HashMap::new()),
        hooks_dir: PathBuf::new(),
        socket: PathBuf::new(),
        git: PathBuf::from("git"),
    };
    let request = RequestDef {
        credential: CredentialDef::SshKey(key.to_string()),
        kind: KindDef::Git,
        transport: crate::request::TransportDef::Ssh,
        repository: Some(repo.clone()),
        action: Some(action),
        ..RequestDef::default()
    };
    let mut worker = Worker::new(live);
    let d = shared.decide(&mut worker, &request);
    log(
        "SSH",
        &repo,
        d.status.http(),
        d.reason.code(),
        &format!("key:{key}"),
    );
    if !d.allow {
        eprintln!("forge-authz: {} ({})", d.message, d.reason.code());
        return Ok(1);
    }
    let dir = std::fs::canonicalize(repos)?.join(format!("{repo}.git"));
    match action {
        ActionDef::Pull => {
            let status = Command::new("git-upload-pack")
                .arg(&dir)
                .env("PATH", git_path())
                .status()?;
            Ok(if status.success() { 0 } else { 1 })
        }
        ActionDef::Push => {
            // A private socket for this push's hook questions.
            let state = std::env::temp_dir().join(format!("forge-authz-ssh-{}", random_id()));
            std::fs::create_dir_all(state.join("hooks"))?;
            {
                use std::os::unix::fs::PermissionsExt as _;
                std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700))?;
                let hook = state.join("hooks").join("update");
                std::fs::write(&hook, hook_script(&std::env::current_exe()?))?;
                std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755))?;
            }
            let socket = state.join("hook.sock");
            let listener = UnixListener::bind(&socket)?;
            let id = random_id();
            if let Ok(mut p) = shared.pushes.lock() {
                p.insert(
                    id.clone(),
                    PushContext {
                        request: request.clone(),
                    },
                );
            }
            let shared = Arc::new(shared);
            {
                let shared = shared.clone();
                std::thread::spawn(move || {
                    for conn in listener.incoming().flatten() {
                        hook_connection(&shared, conn);
                    }
                });
            }
            let status = Command::new("git-receive-pack")
                .arg(&dir)
                .env("PATH", git_path())
                .env("GIT_CONFIG_COUNT", "1")
                .env("GIT_CONFIG_KEY_0", "core.hooksPath")
                .env("GIT_CONFIG_VALUE_0", state.join("hooks"))
                .env("FORGE_AUTHZ_PUSH", &id)
                .env("FORGE_AUTHZ_HOOK_SOCKET", &socket)
                .status()?;
            let _ = std::fs::remove_dir_all(&state);
            Ok(if status.success() { 0 } else { 1 })
        }
    }
}

/// PATH with git's exec directory first (git-upload-pack and git-receive-pack live there).
fn git_path() -> std::ffi::OsString {
    let exec = Command::new("git")
        .arg("--exec-path")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let mut p = std::ffi::OsString::from(exec);
    p.push(":");
    p.push(std::env::var_os("PATH").unwrap_or_default());
    p
}

#[cfg(test)]
mod ssh_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ssh_commands() {
        assert_eq!(
            parse_ssh_command("git-upload-pack 'alice/app.git'"),
            Ok((ActionDef::Pull, "alice/app".into()))
        );
        assert_eq!(
            parse_ssh_command("git-receive-pack '/alice/app.git'"),
            Ok((ActionDef::Push, "alice/app".into()))
        );
        assert_eq!(
            parse_ssh_command("git-upload-pack alice/app"),
            Ok((ActionDef::Pull, "alice/app".into()))
        );
        // A leading `/` is the namespace root (ssh:// URLs send it), never the filesystem:
        // `/etc/passwd` names repository `etc/passwd` under the served directory.
        assert_eq!(
            parse_ssh_command("git-upload-pack '/etc/passwd'"),
            Ok((ActionDef::Pull, "etc/passwd".into()))
        );
        for bad in [
            "",
            "ls",
            "git-upload-archive 'alice/app.git'",
            "git-upload-pack '../etc/passwd'",
            "git-upload-pack 'alice/../../etc'",
            "git-upload-pack '/srv/git/alice/app.git'",
            "git-upload-pack '//alice/app.git'",
            "git-upload-pack 'alice/app.git' extra",
            "git-upload-pack 'alice/app.git'; rm -rf /",
            "git-upload-pack 'a/b/c.git'",
            "bash -c 'git-upload-pack alice/app'",
        ] {
            assert!(parse_ssh_command(bad).is_err(), "{bad}");
        }
    }
}
