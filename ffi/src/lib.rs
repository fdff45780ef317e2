//! The C ABI of the forge-authz host (issue 12): what a forge written in Go, Python, C or
//! anything that can call C links to load the policy module, swap it at run time, verify a
//! credential, decide a request from facts it supplies, and mint tokens.
//!
//! **The boundary is JSON, in the formats the CLI already documents** (README, "World
//! fixture" and the request file of `forge-authz decide`): a request is a `RequestDef`, the
//! facts are a world (users, organisations, repositories, token records, SSH keys), a
//! decision is exactly what `forge-authz decide` prints. One specification serves every
//! language (each has JSON), the scenario corpus is already written in it, and no C struct
//! layout has to be mirrored in Go, Python and Node. A decision costs a few microseconds of
//! parsing and printing on top of the policy call (BENCHMARKS.md, "Every forge's language").
//!
//! **Facts from the forge itself** (issue 22, [`fa_decide_with`] in `source.rs`): instead of
//! a world, a table of callbacks the policy asks, during the decision, for exactly the facts
//! it needs; any callback failure is the `policy-failure` deny (README, "Facts through
//! callbacks").
//!
//! **Errors can never be mistaken for an allow.** Every function returns an `int32_t`:
//! [`FA_ALLOW`] (0) only from [`fa_decide`] for an allowed single decision; [`FA_DENY`] (1)
//! for a refusal; [`FA_OK`] (0 as well, for functions that do not decide) and [`FA_ERROR`]
//! (2) when nothing was decided (bad JSON, unknown key, a policy that cannot load). A
//! panic inside the library is caught and is `FA_ERROR`. A policy that cannot decide (trap,
//! deadline) is a `FA_DENY` with the reason `policy-failure`, as in the server.
//!
//! **Memory.** Strings the library returns (`*output`, `*error`) are allocated by it and
//! freed with [`fa_string_free`]; handles with their `_free` function. Input strings are
//! UTF-8, NUL-terminated, borrowed for the call.
//!
//! **Threads.** A policy handle may be used from many threads at once: each call takes a
//! warm instance from the handle's pool (or builds one) and gives it back; a swap is seen by
//! every instance before its next call. A world handle may be read by many threads while
//! none adds to it.
#![allow(unsafe_code)] // the C ABI: raw pointers in, raw pointers out; each use has a SAFETY note
#![allow(non_camel_case_types)] // C names: fa_policy, fa_world

use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use forge_authz_host::policy::Policy;
use forge_authz_host::request::{
    CredentialDef, MintOrder, RequestDef, authorize, mint, outcome_output,
};
use forge_authz_host::trusted_pool::{Candidate, TrustConfig, TrustedPool};
use forge_authz_host::wit;
use forge_authz_host::world::{TokenDef, World};

mod source;
mod trust;
pub use source::*;
pub use trust::*;

/// Allowed (from [`fa_decide`]); success (from the other functions).
pub const FA_ALLOW: i32 = 0;
/// Success of a function that does not decide (the same value as [`FA_ALLOW`]).
pub const FA_OK: i32 = 0;
/// Refused: the output holds the decision and its reason.
pub const FA_DENY: i32 = 1;
/// Nothing was decided or done: the error string says why. Never an allow.
pub const FA_ERROR: i32 = 2;

/// The WIT contract version this library speaks (`forge:authz@…`): the Rust host's.
pub const FA_CONTRACT: &CStr = forge_authz_host::wit::WIT_VERSION_C;

/// A loaded policy: the published module, its configuration, a pool of warm instances and
/// the trust every module it serves went through (issue 23).
pub struct fa_policy {
    pool: TrustedPool,
}

/// Facts a caller supplies: a world in the fixture format.
pub struct fa_world {
    world: RwLock<World>,
}

/// A C string the caller frees with [`fa_string_free`].
fn c_string(s: String) -> *mut c_char {
    // A NUL inside would end the string early: JSON never has one (it escapes `\u0000`).
    CString::new(s.replace('\0', "\u{fffd}"))
        .map(CString::into_raw)
        .unwrap_or(std::ptr::null_mut())
}

/// Store `s` in `*out` if `out` is not null.
///
/// # Safety
/// `out` is null or valid for one pointer write.
unsafe fn put(out: *mut *mut c_char, s: String) {
    if !out.is_null() {
        // SAFETY: the caller passes a valid out-pointer (documented on every function).
        unsafe { *out = c_string(s) };
    }
}

/// The UTF-8 text behind a C string.
///
/// # Safety
/// `s` is null or a NUL-terminated string valid for the call.
unsafe fn text<'a>(s: *const c_char, what: &str) -> anyhow::Result<&'a str> {
    if s.is_null() {
        anyhow::bail!("{what} is NULL");
    }
    // SAFETY: non-null, NUL-terminated, valid for the call (the caller's contract).
    let c = unsafe { CStr::from_ptr(s) };
    c.to_str()
        .map_err(|_| anyhow::anyhow!("{what} is not UTF-8"))
}

/// A value read from a JSON argument (`what`: its parameter, for the error).
///
/// # Safety
/// `s` is null or a NUL-terminated string valid for the call.
unsafe fn json_arg<T: serde::de::DeserializeOwned>(
    s: *const c_char,
    what: &str,
) -> anyhow::Result<T> {
    // SAFETY: the caller's contract, passed on.
    forge_authz_host::world::parse_json(unsafe { text(s, what)? })
}

/// Run `f`; its error (or a panic) becomes `FA_ERROR` with the message in `*error`. Called
/// from inside a fact callback, it refuses (`FA_ERROR`) and the outer decision fails.
fn guarded(error: *mut *mut c_char, f: impl FnOnce() -> anyhow::Result<i32>) -> i32 {
    let checked = || source::refuse_nested().and_then(|()| f());
    match catch_unwind(AssertUnwindSafe(checked)) {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            // SAFETY: `error` is the caller's out-pointer, null or valid.
            unsafe { put(error, format!("{e:#}")) };
            FA_ERROR
        }
        Err(_) => {
            // SAFETY: as above.
            unsafe { put(error, "internal error (panic) in forge-authz".into()) };
            FA_ERROR
        }
    }
}

/// The module to make live: `module`/`len` with `signature` (the `.minisig` text, `None`:
/// unsigned), or the module embedded in this library when `module` is null.
///
/// # Safety
/// `module` is null or valid for `len` bytes.
unsafe fn candidate<'a>(
    module: *const u8,
    len: usize,
    signature: Option<&'a str>,
) -> Candidate<'a> {
    if module.is_null() {
        return Candidate::Embedded;
    }
    // SAFETY: non-null and valid for `len` bytes (the caller's contract).
    let bytes = unsafe { std::slice::from_raw_parts(module, len) };
    Candidate::Bytes { bytes, signature }
}

/// The handle behind a pointer the caller passed (`what`: its parameter, for the error).
///
/// # Safety
/// `handle` is null or a live handle (the caller's contract), valid for the call.
unsafe fn handle<'a, T>(handle: *const T, what: &str) -> anyhow::Result<&'a T> {
    // SAFETY: null or a live handle (the caller's contract).
    unsafe { handle.as_ref() }.ok_or_else(|| anyhow::anyhow!("{what} is NULL"))
}

/// A new handle made by `make`, in `*out` (`FA_OK`), which the caller frees with the
/// handle's `_free` function; `FA_ERROR` with `*error` when `out` is null (checked before
/// the work) or `make` fails. `out` and `error` are the caller's out-pointers, null or valid
/// for a write (as for [`guarded`]).
fn hand_out<T>(
    out: *mut *mut T,
    error: *mut *mut c_char,
    make: impl FnOnce() -> anyhow::Result<T>,
) -> i32 {
    guarded(error, || {
        if out.is_null() {
            anyhow::bail!("out is NULL");
        }
        let handle = make()?;
        // SAFETY: non-null and valid for a write (the caller's contract).
        unsafe { *out = Box::into_raw(Box::new(handle)) };
        Ok(FA_OK)
    })
}

/// Run `f` and put the JSON it answers in `*output`, returning its code; its error (or a
/// panic) is `FA_ERROR` with the message in `*output`. `output` is the caller's out-pointer,
/// null or valid for a write (as for [`guarded`]).
fn answer(
    output: *mut *mut c_char,
    f: impl FnOnce() -> anyhow::Result<(serde_json::Value, i32)>,
) -> i32 {
    guarded(output, || {
        let (json, code) = f()?;
        // SAFETY: `output` valid for a write (the caller's contract).
        unsafe { put(output, json.to_string()) };
        Ok(code)
    })
}

/// Free a handle [`hand_out`] made (NULL is ignored).
///
/// # Safety
/// `handle` is null or came from [`hand_out`], and is not used after this call.
unsafe fn free_handle<T>(handle: *mut T) {
    if !handle.is_null() {
        // SAFETY: allocated by `hand_out` with `Box::into_raw`, freed once.
        drop(unsafe { Box::from_raw(handle) });
    }
}

impl fa_world {
    /// The facts, for a decision (a lock poisoned by a panic in another call is taken all
    /// the same).
    fn read(&self) -> RwLockReadGuard<'_, World> {
        self.world.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The facts, to add a token record (a put or a mint; as [`fa_world::read`] for a
    /// poisoned lock).
    fn write(&self) -> RwLockWriteGuard<'_, World> {
        self.world.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The policy configuration from JSON: the world fixture's `keys`, `signing_key` and
/// `options`, and the module trust in `trust` (other fields are ignored here).
fn config_of(json: &str) -> anyhow::Result<(wit::Config, TrustConfig)> {
    let mut v: serde_json::Value = serde_json::from_str(json)?;
    let mut trust = TrustConfig::default();
    if let Some(o) = v.as_object_mut() {
        if let Some(t) = o.remove("trust") {
            trust = serde_json::from_value(t).map_err(|e| anyhow::anyhow!("trust: {e}"))?;
        }
        o.retain(|k, _| matches!(k.as_str(), "keys" | "signing_key" | "options"));
    }
    let world: World = serde_json::from_value(v)?;
    Ok((forge_authz_host::wit::world_config(&world)?, trust))
}

/// Make a policy handle: read `config_json`, admit `candidate` by its trust, check it.
///
/// # Safety
/// `config_json` a NUL-terminated string (or null: an error).
unsafe fn new_policy(
    candidate: Candidate<'_>,
    config_json: *const c_char,
) -> anyhow::Result<fa_policy> {
    // SAFETY: the caller's contract for `config_json`.
    let (config, trust) = config_of(unsafe { text(config_json, "config_json")? })?;
    let trust = trust.trust().map_err(|e| anyhow::anyhow!("{e}"))?;
    let pool = TrustedPool::load(candidate, config, trust)
        .map_err(|e| anyhow::anyhow!("policy module refused: {e}"))?;
    Ok(fa_policy { pool })
}

/// Swap `candidate` into a live handle (see [`fa_policy_swap`]).
///
/// # Safety
/// `policy` null or a live handle.
unsafe fn swap_policy(policy: *const fa_policy, candidate: Candidate<'_>) -> anyhow::Result<i32> {
    // SAFETY: a live handle (the caller's contract).
    let p = unsafe { handle(policy, "policy")? };
    p.pool
        .swap(candidate)
        .map_err(|e| anyhow::anyhow!("policy module refused: {e}"))?;
    Ok(FA_OK)
}

/// Load a policy module and configure it.
///
/// `module`/`module_len`: the component's bytes (`.wasm`); NULL: the module embedded in this
/// library (trusted as built). `config_json`: `{"keys": [{"id": "k1", "secret": "<hex, ≥
/// 32 bytes>"}], "signing_key": "k1", "options": {…}, "trust": {"public_keys": ["<minisign
/// .pub text>"], "retired_keys": ["<key id>"], "allow_unsigned": false}}` (the world
/// fixture's fields and the module trust, all of `trust` optional). Module bytes need a
/// signature by a trusted key ([`fa_policy_new_signed`]): here, without one, they are
/// refused (`unsigned`) unless `allow_unsigned`. The module is checked as a server checks
/// it before serving (it loads, accepts the keys, gives the known answers). On `FA_OK`,
/// `*out` is the handle (free with [`fa_policy_free`]); on `FA_ERROR`, `*error` says why.
///
/// # Safety
/// `module` is null or valid for `module_len` bytes; `config_json` a NUL-terminated
/// string; `out` valid for a write; `error` null or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fa_policy_new(
    module: *const u8,
    module_len: usize,
    config_json: *const c_char,
    out: *mut *mut fa_policy,
    error: *mut *mut c_char,
) -> i32 {
    hand_out(out, error, || {
        // SAFETY: the caller's contract for `module`/`module_len` and `config_json`.
        unsafe { new_policy(candidate(module, module_len, None), config_json) }
    })
}

/// Swap in another module version at run time: checked exactly as by [`fa_policy_new`]
/// (against the handle's configuration) before it is published; a refused module leaves the
/// current one serving. Calls already running finish on the old version; every later call
/// uses the new one. Module bytes without a signature are refused (`unsigned`) unless the
/// handle's trust has `allow_unsigned`: use [`fa_policy_swap_signed`]. NULL: back to the
/// embedded module (trusted as built).
///
/// # Safety
/// `policy` a live handle; `module` valid for `module_len` bytes (NULL: the embedded
/// module); `error` null or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fa_policy_swap(
    policy: *const fa_policy,
    module: *const u8,
    module_len: usize,
    error: *mut *mut c_char,
) -> i32 {
    guarded(error, || {
        // SAFETY: the caller's contract for `policy` and `module`/`module_len`.
        unsafe { swap_policy(policy, candidate(module, module_len, None)) }
    })
}

/// The SHA-256 (hex) of the module the handle runs now. Free with [`fa_string_free`].
///
/// # Safety
/// `policy` a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fa_policy_sha256(policy: *const fa_policy) -> *mut c_char {
    // SAFETY: a live handle or null.
    match unsafe { policy.as_ref() } {
        Some(p) => c_string(p.pool.pool().live().current().module.sha256().to_string()),
        None => std::ptr::null_mut(),
    }
}

/// Free a policy handle (NULL is ignored).
///
/// # Safety
/// `policy` came from [`fa_policy_new`] and is not used after this call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fa_policy_free(policy: *mut fa_policy) {
    // SAFETY: allocated by `fa_policy_new` (`hand_out`), freed once (the caller's contract).
    unsafe { free_handle(policy) }
}

/// Load facts: a world in the fixture format (README, "World fixture"). `now` in it, if
/// present, is the clock of every decision made with it (omit it: the system clock).
///
/// # Safety
/// `world_json` a NUL-terminated string; `out` valid for a write; `error` null or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fa_world_new(
    world_json: *const c_char,
    out: *mut *mut fa_world,
    error: *mut *mut c_char,
) -> i32 {
    hand_out(out, error, || {
        // SAFETY: the caller's contract.
        let world: World = unsafe { json_arg(world_json, "world_json")? };
        world.validate()?;
        Ok(fa_world {
            world: RwLock::new(world),
        })
    })
}

/// Add (or replace, by id) a token record in a world: a `TokenDef` as `fa_issue` returns
/// it, or as the fixture lists it.
///
/// # Safety
/// `world` a live handle not read by another thread during the call; `record_json` a
/// NUL-terminated string; `error` null or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fa_world_put_token(
    world: *const fa_world,
    record_json: *const c_char,
    error: *mut *mut c_char,
) -> i32 {
    guarded(error, || {
        // SAFETY: a live handle.
        let w = unsafe { handle(world, "world")? };
        // SAFETY: the caller's contract.
        let def: TokenDef = serde_json::from_str(unsafe { text(record_json, "record_json")? })?;
        w.write().put_token(def)?;
        Ok(FA_OK)
    })
}

/// Free a world handle (NULL is ignored).
///
/// # Safety
/// `world` came from [`fa_world_new`] and is not used after this call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fa_world_free(world: *mut fa_world) {
    // SAFETY: allocated by `fa_world_new` (`hand_out`), freed once (the caller's contract).
    unsafe { free_handle(world) }
}

/// Run `f` with a warm instance of the handle's current module (when none can be built,
/// every call fails: a decision is a `policy-failure` deny, anything else an error).
fn with_instance<R>(
    p: &fa_policy,
    f: impl FnOnce(&mut dyn Policy) -> anyhow::Result<R>,
) -> anyhow::Result<R> {
    p.pool.pool().with_instance(f)?
}

/// Decide a request from the world's facts.
///
/// `request_json`: a request in the format of `forge-authz decide` (`{"credential":
/// {"bearer": "fzpat_…"}, "repository": "alice/app", "action": "pull"}`; `kind` `git`
/// (default), `create`, `api`, `batch`, `ref-permissions`). `*output`: the decision exactly
/// as `forge-authz decide` prints it (`{"decision": "allow"|"deny", "status": …,
/// "reason": …, "message": …}`; a list for a batch, a ref → permissions map for
/// ref permissions). Returns `FA_ALLOW` only for an allowed git, create or api request
/// (for a batch: some repository allowed; for ref permissions: some permission); `FA_DENY`
/// otherwise, including when the policy could not decide (`policy-failure`); `FA_ERROR`
/// with `*output` the error for a request that could not even be read.
///
/// # Safety
/// `policy` and `world` live handles; `request_json` a NUL-terminated string; `output` valid
/// for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fa_decide(
    policy: *const fa_policy,
    world: *const fa_world,
    request_json: *const c_char,
    output: *mut *mut c_char,
) -> i32 {
    answer(output, || {
        // SAFETY: live handles and a valid string (the caller's contract).
        let p = unsafe { handle(policy, "policy")? };
        let w = unsafe { handle(world, "world")? };
        let request: RequestDef = unsafe { json_arg(request_json, "request_json")? };
        let world = w.read();
        let outcome = with_instance(p, |instance| {
            authorize(instance, &*world, &request, world.now())
        })?;
        let (json, allow) = outcome_output(&outcome);
        Ok((json, if allow { FA_ALLOW } else { FA_DENY }))
    })
}

/// Verify the token in a credential with no facts (format, checksum, key, signature): for a
/// host that looks a token's record up before it builds the world of a decision.
///
/// `credential_json`: `"anonymous"`, `{"bearer": "…"}` or `{"basic": {"username": …,
/// "password": …}}`. `*output`: `{"token_id": "…", "key_id": "…"}` for a genuine token,
/// `{"token_error": "bad-signature"}` (any `token-error` code) for a refused one, `null` when
/// the credential carries no token. Returns `FA_OK`, or `FA_ERROR` for unreadable input.
///
/// # Safety
/// `policy` a live handle; `credential_json` a NUL-terminated string; `output` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fa_verify(
    policy: *const fa_policy,
    credential_json: *const c_char,
    output: *mut *mut c_char,
) -> i32 {
    answer(output, || {
        // SAFETY: a live handle and a valid string.
        let p = unsafe { handle(policy, "policy")? };
        let def: CredentialDef = unsafe { json_arg(credential_json, "credential_json")? };
        let credential = forge_authz_host::wit::core::credential_out(def.token_credential());
        let verified = with_instance(p, |instance| Ok(instance.verify(&credential)?))?;
        let json = match verified {
            Ok(Some(v)) => serde_json::json!({"token_id": v.token_id, "key_id": v.key_id}),
            Ok(None) => serde_json::Value::Null,
            Err(e) => serde_json::json!({"token_error": e.code()}),
        };
        Ok((json, FA_OK))
    })
}

/// Mint a token as its owner's session would (the owner must be an active user of the
/// world; bound repositories are checked against what the owner sees), and add its record
/// to the world.
///
/// `mint_json`: `{"owner": "alice", "name": "ci", "scopes": ["read:repository"],
/// "repositories": [], "owners": [], "expires_in": 86400}`. `*output`: `{"secret":
/// "fzpat_…", "record": {…}}` — show the secret once, store the record (it holds the token's
/// HMAC tag, never the secret). `FA_DENY` with `{"refused": "<why>"}` when a minting rule
/// refuses; `FA_ERROR` for unreadable input.
///
/// # Safety
/// `policy` and `world` live handles (`world` not read by another thread during the call);
/// `mint_json` a NUL-terminated string; `output` valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fa_issue(
    policy: *const fa_policy,
    world: *const fa_world,
    mint_json: *const c_char,
    output: *mut *mut c_char,
) -> i32 {
    answer(output, || {
        // SAFETY: live handles and a valid string.
        let p = unsafe { handle(policy, "policy")? };
        let w = unsafe { handle(world, "world")? };
        let order: MintOrder = unsafe { json_arg(mint_json, "mint_json")? };
        let mut world = w.write();
        let issued = with_instance(p, |instance| mint(instance, &mut world, order))?;
        Ok(match issued {
            Ok(t) => (
                serde_json::json!({
                    "secret": t.secret,
                    "record": TokenDef::from_record(&forge_authz_host::wit::core::record_in(t.record.clone())),
                }),
                FA_OK,
            ),
            Err(e) => (serde_json::json!({"refused": e.describe()}), FA_DENY),
        })
    })
}

/// The WIT contract version this library speaks (`"0.6.0"`); a static string, not freed.
#[unsafe(no_mangle)]
pub extern "C" fn fa_contract_version() -> *const c_char {
    FA_CONTRACT.as_ptr()
}

/// Free a string the library returned (NULL is ignored).
///
/// # Safety
/// `s` came from this library and is not used after this call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fa_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: made by `CString::into_raw` in this library, freed once.
        drop(unsafe { CString::from_raw(s) });
    }
}

#[cfg(test)]
mod tests {
    /// The C ABI names the contract the Rust host speaks: one version, not two.
    #[test]
    fn the_contract_version_is_the_hosts() {
        assert_eq!(
            super::FA_CONTRACT.to_str().ok(),
            Some(forge_authz_host::wit::WIT_VERSION)
        );
    }
}
