//! Facts through callbacks (issue 22, docs/design/fact-sources.md §2): a forge passes a
//! table of function pointers, [`fa_fact_source`], and [`fa_decide_with`] asks it for
//! exactly the facts the policy needs, query by query, in the boundary format (JSON, §1).
//!
//! The rules of the answer (strict fields, names equal to the ones asked, the token digest,
//! the time budget, the first failure kept) are the one adapter every host shares,
//! `forge_authz_fixture::boundary::Boundary`; this module only turns the C pointers into its
//! `Callbacks`. A callback that fails, answers garbage or takes too long makes the decision
//! the `policy-failure` deny (503), never "not found".

use std::cell::Cell;
use std::ffi::{CString, c_char, c_void};
use std::time::Duration;

use anyhow::{Context as _, bail};

use forge_authz_fixture::boundary::{Answer, Boundary, Callbacks, DEFAULT_BUDGET, settle};
use forge_authz_fixture::decided::{Outcome, any_effect};
use forge_authz_host::request::{RequestDef, authorize, outcome_output};
use forge_authz_host::world::system_now;

use super::{FA_ALLOW, FA_DENY, FA_ERROR, FA_OK, answer, fa_policy, handle, json_arg, text};

/// A callback's answer: found, and set with [`fa_answer_set`].
pub const FA_FACT_FOUND: i32 = 0;
/// A callback could not answer (the same value as [`FA_ERROR`]; any value but
/// [`FA_FACT_FOUND`] and [`FA_FACT_ABSENT`] is a failure): the decision is `policy-failure`.
pub const FA_FACT_FAILED: i32 = 2;
/// No such fact: the answer must not be set.
pub const FA_FACT_ABSENT: i32 = 3;
/// The version of [`fa_fact_source`] this library reads.
pub const FA_FACT_SOURCE_V1: u32 = 1;
/// [`fa_decide_with`]'s `now` for the system clock.
pub const FA_NOW_SYSTEM: i64 = i64::MIN;

/// One callback's answer: owned by the library, valid only during that callback.
#[derive(Default)]
pub struct fa_answer {
    json: Option<Vec<u8>>,
    failure: Option<String>,
}

/// A per-fact callback with one name (also `lookup`, with the query JSON).
type ByName = unsafe extern "C" fn(*mut c_void, *const c_char, *mut fa_answer) -> i32;
/// A per-fact callback with a name and a viewer (also `repositories`, with the paths).
type AsViewer =
    unsafe extern "C" fn(*mut c_void, *const c_char, *const c_char, *mut fa_answer) -> i32;
/// A hook told a JSON text.
type Hook = unsafe extern "C" fn(*mut c_void, *const c_char);

/// A forge's facts as callbacks (design §2). Every callback runs on the thread that called
/// [`fa_decide_with`], before it returns; its string arguments are borrowed for the call;
/// it answers with [`fa_answer_set`] and returns [`FA_FACT_FOUND`], returns
/// [`FA_FACT_ABSENT`] for no such fact, or anything else (with [`fa_answer_fail`] saying
/// why) when it cannot answer. It must not call any other `fa_*` function.
///
/// The library cannot interrupt a callback that blocks: the forge must bound its own I/O
/// (SQL statement timeouts, lock timeouts, a context deadline). `budget_ms` is checked after
/// each callback returns: past it the decision is `policy-failure`, even if the late answer
/// was good.
#[repr(C)]
pub struct fa_fact_source {
    /// [`FA_FACT_SOURCE_V1`]; any other value is `FA_ERROR`.
    pub version: u32,
    /// The wall time all callbacks of one decision may take, in ms; 0: 250.
    pub budget_ms: u32,
    /// Passed back to every callback untouched.
    pub user_data: *mut c_void,
    /// A token's record by its id (compared exactly), as `fa_issue` returns it. Required.
    pub token_record: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            id: *const c_char,
            answer: *mut fa_answer,
        ) -> i32,
    >,
    /// An account's facts by login: `{"status", "site_admin", "visibility",
    /// "organization"}`. Required.
    pub user_facts: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            name: *const c_char,
            answer: *mut fa_answer,
        ) -> i32,
    >,
    /// A repository by `owner/name` as the viewer sees it: `{"path"?, "owner_visibility",
    /// "private", "kind", "archived", "role", "protected_refs"?, "registrant"?}`. Required.
    pub repository_facts: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            path: *const c_char,
            viewer: *const c_char,
            answer: *mut fa_answer,
        ) -> i32,
    >,
    /// A user or organisation as the viewer sees it: `{"organization", "visibility",
    /// "member_role"}`. Required.
    pub namespace_facts: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            name: *const c_char,
            viewer: *const c_char,
            answer: *mut fa_answer,
        ) -> i32,
    >,
    /// An SSH key by id: `{"id", "kind", "owner", "repository"?, "read_only"}`. NULL: no
    /// SSH keys.
    pub ssh_key: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            id: *const c_char,
            answer: *mut fa_answer,
        ) -> i32,
    >,
    /// Many repositories at once: `paths_json` is a JSON array of paths; the answer a JSON array
    /// of the same length holding repository answers or `null`. NULL: one
    /// `repository_facts` call per path.
    pub repositories: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            paths_json: *const c_char,
            viewer: *const c_char,
            answer: *mut fa_answer,
        ) -> i32,
    >,
    /// A whole query in one call: `query_json` (design §1), the answer `{"token", "owner",
    /// "account", "sudo", "repository", "namespace"}` (each `null` when absent). NULL:
    /// composed from the per-fact callbacks.
    pub lookup: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            query_json: *const c_char,
            answer: *mut fa_answer,
        ) -> i32,
    >,
    /// Told each query the policy asks (`{"lookup": …}` or `{"repositories": …}`) before it
    /// is answered. NULL: not told.
    pub observe: Option<unsafe extern "C" fn(user_data: *mut c_void, asked_json: *const c_char)>,
    /// Told, after a decision that asks for store writes, `{"token": "<id>",
    /// "touch_last_used": bool, "revoke_family": bool}`: record the token's use, revoke its
    /// rotation family. Not called when there is nothing to write. NULL: not told.
    pub effects: Option<unsafe extern "C" fn(user_data: *mut c_void, effects_json: *const c_char)>,
}

/// Copy `len` bytes of JSON into `answer` (at most once: a second call is `FA_ERROR` and
/// fails the answer). The caller keeps its buffer.
///
/// # Safety
/// `answer` is the pointer the callback was given, during that callback; `json` is valid
/// for `len` bytes (NULL only when `len` is 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fa_answer_set(
    answer: *mut fa_answer,
    json: *const c_char,
    len: usize,
) -> i32 {
    // SAFETY: null or the live answer of the running callback (the caller's contract).
    let Some(a) = (unsafe { answer.as_mut() }) else {
        return FA_ERROR;
    };
    if a.json.is_some() {
        a.failure
            .get_or_insert_with(|| "the answer was set twice".into());
        return FA_ERROR;
    }
    let bytes = match (json.is_null(), len) {
        (true, 0) => Vec::new(),
        (true, _) => {
            a.failure
                .get_or_insert_with(|| "the answer's JSON is NULL".into());
            return FA_ERROR;
        }
        // SAFETY: non-null and valid for `len` bytes (the caller's contract).
        (false, _) => unsafe { std::slice::from_raw_parts(json.cast::<u8>(), len) }.to_vec(),
    };
    a.json = Some(bytes);
    FA_OK
}

/// Say why the callback could not answer (copied; it becomes the decision's `detail`).
///
/// # Safety
/// `answer` as for [`fa_answer_set`]; `message` NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fa_answer_fail(answer: *mut fa_answer, message: *const c_char) {
    // SAFETY: as in `fa_answer_set`.
    if let Some(a) = unsafe { answer.as_mut() } {
        // SAFETY: null or a NUL-terminated string (the caller's contract).
        let message = unsafe { text(message, "message") }.unwrap_or("no message");
        a.failure.get_or_insert_with(|| message.to_string());
    }
}

thread_local! {
    /// Inside a fact callback on this thread.
    static INSIDE: Cell<bool> = const { Cell::new(false) };
    /// A callback on this thread called back into the library.
    static NESTED: Cell<bool> = const { Cell::new(false) };
}

/// `Err` when called from inside a fact callback (and the callback then fails): every
/// `fa_*` entry point but `fa_answer_*` and the frees asks this first.
pub(crate) fn refuse_nested() -> anyhow::Result<()> {
    if INSIDE.with(Cell::get) {
        NESTED.with(|n| n.set(true));
        bail!("re-entrant call from a fact callback");
    }
    Ok(())
}

/// Run a callback with the re-entrancy flag set; `Err` when it called back into the library.
fn inside<R>(call: impl FnOnce() -> R) -> anyhow::Result<R> {
    /// Restores the flag however the call ends.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            INSIDE.with(|i| i.set(self.0));
        }
    }
    let _restore = Restore(INSIDE.with(|i| i.replace(true)));
    NESTED.with(|n| n.set(false));
    let r = call();
    if NESTED.with(|n| n.replace(false)) {
        bail!("re-entrant call from a fact callback");
    }
    Ok(r)
}

/// A C string argument (an interior NUL cannot name anything the forge has: a failure).
fn c_arg(s: &str) -> anyhow::Result<CString> {
    CString::new(s).context("a name with a NUL byte")
}

/// The C callbacks as the boundary's [`Callbacks`].
struct CSource<'a> {
    src: &'a fa_fact_source,
    token: ByName,
    user: ByName,
    repository: AsViewer,
    namespace: AsViewer,
}

// SAFETY: the adapter is made, used and dropped inside one `fa_decide_with` call, on the
// caller's thread; `Sync` is the bound of `Callbacks` (hosts that share an adapter), and
// the C contract (README) is that `user_data` is safe wherever the forge lets it be used.
unsafe impl Sync for CSource<'_> {}

impl<'a> CSource<'a> {
    fn new(src: &'a fa_fact_source) -> anyhow::Result<Self> {
        if src.version != FA_FACT_SOURCE_V1 {
            bail!(
                "fact source version {} (this library reads {FA_FACT_SOURCE_V1})",
                src.version
            );
        }
        let required = |name: &str| format!("the fact source's {name} is NULL");
        Ok(CSource {
            src,
            token: src.token_record.with_context(|| required("token_record"))?,
            user: src.user_facts.with_context(|| required("user_facts"))?,
            repository: src
                .repository_facts
                .with_context(|| required("repository_facts"))?,
            namespace: src
                .namespace_facts
                .with_context(|| required("namespace_facts"))?,
        })
    }

    fn budget(&self) -> Duration {
        match self.src.budget_ms {
            0 => DEFAULT_BUDGET,
            ms => Duration::from_millis(u64::from(ms)),
        }
    }

    /// Call a callback with a fresh answer, and read what it said.
    fn ask(
        &self,
        call: impl FnOnce(*mut c_void, *mut fa_answer) -> i32,
    ) -> anyhow::Result<Option<Answer>> {
        let mut answer = fa_answer::default();
        let code = inside(|| call(self.src.user_data, &mut answer))?;
        match (code, answer.failure, answer.json) {
            (_, Some(why), _) => bail!("{why}"),
            (FA_FACT_FOUND, None, Some(json)) => Ok(Some(Answer::Json(json))),
            (FA_FACT_FOUND, None, None) => bail!("found, but no answer was set"),
            (FA_FACT_ABSENT, None, None) => Ok(None),
            (FA_FACT_ABSENT, None, Some(_)) => bail!("absent, but an answer was set"),
            (code, None, _) => bail!("the callback failed (code {code})"),
        }
    }

    fn by_name(&self, f: ByName, name: &str) -> anyhow::Result<Option<Answer>> {
        let name = c_arg(name)?;
        // SAFETY: the forge's callback, called as its type says; the arguments live for the call.
        self.ask(|ud, a| unsafe { f(ud, name.as_ptr(), a) })
    }

    fn as_viewer(
        &self,
        f: AsViewer,
        name: &str,
        viewer: Option<&str>,
    ) -> anyhow::Result<Option<Answer>> {
        let name = c_arg(name)?;
        let viewer = viewer.map(c_arg).transpose()?;
        let v = viewer.as_ref().map_or(std::ptr::null(), |v| v.as_ptr());
        // SAFETY: as in `by_name`; `v` is NULL or lives for the call.
        self.ask(|ud, a| unsafe { f(ud, name.as_ptr(), v, a) })
    }

    /// An optional whole-answer callback: `None` when the forge has none.
    fn whole(&self, found: anyhow::Result<Option<Answer>>) -> anyhow::Result<Answer> {
        found?.context("absent is not an answer to a whole query")
    }

    /// Tell a hook a JSON text.
    fn tell(&self, hook: Option<Hook>, json: &str) {
        if let (Some(f), Ok(json)) = (hook, c_arg(json)) {
            // SAFETY: the forge's hook, called as its type says; `json` lives for the call.
            let _ = inside(|| unsafe { f(self.src.user_data, json.as_ptr()) });
        }
    }
}

impl Callbacks for CSource<'_> {
    fn token(&self, id: &str) -> anyhow::Result<Option<Answer>> {
        self.by_name(self.token, id)
    }
    fn user(&self, name: &str) -> anyhow::Result<Option<Answer>> {
        self.by_name(self.user, name)
    }
    fn repository(&self, path: &str, viewer: Option<&str>) -> anyhow::Result<Option<Answer>> {
        self.as_viewer(self.repository, path, viewer)
    }
    fn namespace(&self, name: &str, viewer: Option<&str>) -> anyhow::Result<Option<Answer>> {
        self.as_viewer(self.namespace, name, viewer)
    }
    fn ssh_key(&self, id: &str) -> anyhow::Result<Option<Answer>> {
        match self.src.ssh_key {
            Some(f) => self.by_name(f, id),
            None => Ok(None),
        }
    }
    fn repositories(
        &self,
        paths: &[String],
        viewer: Option<&str>,
    ) -> Option<anyhow::Result<Answer>> {
        let f = self.src.repositories?;
        let paths = serde_json::to_string(paths).unwrap_or_default();
        Some(self.whole(self.as_viewer(f, &paths, viewer)))
    }
    fn lookup(&self, query_json: &str) -> Option<anyhow::Result<Answer>> {
        let f = self.src.lookup?;
        Some(self.whole(self.by_name(f, query_json)))
    }
    fn observe(&self, asked_json: &str) {
        self.tell(self.src.observe, asked_json);
    }
    fn reads_queries(&self) -> bool {
        let src = self.src;
        src.observe.is_some() || src.lookup.is_some() || src.repositories.is_some()
    }
}

/// Tell the forge the store writes a decision asks for (the `effects` hook).
fn tell_effects(source: &CSource<'_>, outcome: &Outcome) {
    let (effects, token) = outcome.effects();
    if source.src.effects.is_some() && any_effect(effects) {
        let json = serde_json::json!({
            "token": token,
            "touch_last_used": effects.touch_last_used,
            "revoke_family": effects.revoke_family,
        });
        source.tell(source.src.effects, &json.to_string());
    }
}

/// Decide a request with facts from the forge's callbacks: the same request, output and
/// return codes as `fa_decide` (the output is exactly what `fa_decide` prints for a world
/// holding the same facts).
///
/// `now`: the decision's clock in Unix seconds ([`FA_NOW_SYSTEM`]: the system clock); a
/// request's own `"now"` still wins. A callback that fails, answers garbage, names another
/// fact than the one asked, or takes the decision past `budget_ms` gives `FA_DENY` with
/// `policy-failure` (status 503, the cause in `detail`) — also when it is the SSH key, asked
/// before the policy. An absent SSH key is an unreadable request (`FA_ERROR`), as with a
/// world. A NULL or wrong-version `facts`, or a NULL required callback, is `FA_ERROR`
/// before anything is asked.
///
/// # Safety
/// `policy` a live handle; `facts` a valid [`fa_fact_source`] for the call, whose callbacks
/// keep its contract; `request_json` a NUL-terminated string; `output` valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fa_decide_with(
    policy: *const fa_policy,
    facts: *const fa_fact_source,
    request_json: *const c_char,
    now: i64,
    output: *mut *mut c_char,
) -> i32 {
    answer(output, || {
        // SAFETY: live handles and a valid string (the caller's contract).
        let p = unsafe { handle(policy, "policy")? };
        let source = CSource::new(unsafe { handle(facts, "facts")? })?;
        let request: RequestDef = unsafe { json_arg(request_json, "request_json")? };
        let now = if now == FA_NOW_SYSTEM {
            system_now()
        } else {
            now
        };
        let budget = source.budget();
        let boundary = Boundary::new(source, budget);
        let decided = super::with_instance(p, |instance| {
            Ok(authorize(instance, &boundary, &request, now))
        })?;
        let outcome = settle(&boundary, &request, decided)?;
        tell_effects(boundary.callbacks(), &outcome);
        let (json, allow) = outcome_output(&outcome);
        Ok((json, if allow { FA_ALLOW } else { FA_DENY }))
    })
}
