//! Signed modules through the C ABI (issue 23): a module from bytes becomes live only with
//! a minisign signature by a key the handle trusts (its configuration's `trust`), checked
//! by the host's [`forge_authz_host::trust`] before the module is even compiled.

use std::ffi::c_char;

use super::{c_string, candidate, fa_policy, guarded, hand_out, new_policy, swap_policy};

/// The signature's text: `signature`/`len` (UTF-8, the `.minisig` file's contents); NULL
/// is no signature.
///
/// # Safety
/// `signature` is null or valid for `len` bytes.
unsafe fn signature_text<'a>(signature: *const u8, len: usize) -> anyhow::Result<Option<&'a str>> {
    if signature.is_null() {
        return Ok(None);
    }
    // SAFETY: non-null and valid for `len` bytes (the caller's contract).
    let bytes = unsafe { std::slice::from_raw_parts(signature, len) };
    std::str::from_utf8(bytes).map(Some).map_err(|_| {
        anyhow::anyhow!("policy module refused: bad-signature: the signature is not UTF-8 text")
    })
}

/// `fa_policy_new` for signed module bytes: `signature`/`sig_len`
/// is the module's minisign signature (the `.minisig` text) whose trusted comment is
/// `forge-authz-module contract=<fa_contract_version()> version=<u64> sha256=<hex>`, by a
/// key in the configuration's `trust.public_keys`, not retired. Refused (`FA_ERROR`,
/// `*error` starting `policy module refused: untrusted module: <code>:`): `unsigned`, `bad-signature`,
/// `untrusted-key`, `retired-key`, `wrong-contract`, `statement-mismatch`.
///
/// # Safety
/// `module` valid for `module_len` bytes (NULL: the embedded module, the signature
/// ignored); `signature` null or valid for `sig_len` bytes; `config_json` a NUL-terminated
/// string; `out` valid for a write; `error` null or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fa_policy_new_signed(
    module: *const u8,
    module_len: usize,
    signature: *const u8,
    sig_len: usize,
    config_json: *const c_char,
    out: *mut *mut fa_policy,
    error: *mut *mut c_char,
) -> i32 {
    hand_out(out, error, || {
        // SAFETY: the caller's contract for every pointer.
        let signature = unsafe { signature_text(signature, sig_len)? };
        unsafe { new_policy(candidate(module, module_len, signature), config_json) }
    })
}

/// `fa_policy_swap` for signed module bytes (the signature as for
/// [`fa_policy_new_signed`]). Also refused: `replayed-older`, a signed version below the
/// highest this handle made live. Any refusal leaves the current module serving.
///
/// # Safety
/// `policy` a live handle; `module` valid for `module_len` bytes (NULL: the embedded
/// module); `signature` null or valid for `sig_len` bytes; `error` null or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fa_policy_swap_signed(
    policy: *const fa_policy,
    module: *const u8,
    module_len: usize,
    signature: *const u8,
    sig_len: usize,
    error: *mut *mut c_char,
) -> i32 {
    guarded(error, || {
        // SAFETY: the caller's contract for every pointer.
        let signature = unsafe { signature_text(signature, sig_len)? };
        unsafe { swap_policy(policy, candidate(module, module_len, signature)) }
    })
}

/// How the handle's serving module was trusted, as JSON: `{"module": "built-in" | "signed"
/// | "unsigned", "version": <signed version> | null, "signer": "<key id>" | null,
/// "allow_unsigned": bool, "floor": <highest signed version made live>, "trusted_keys":
/// […], "retired_keys": […]}` — an unsigned module serving (`allow_unsigned`, development)
/// is visible here. Free with `fa_string_free`; NULL for a NULL
/// handle.
///
/// # Safety
/// `policy` null or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fa_policy_trust(policy: *const fa_policy) -> *mut c_char {
    // SAFETY: null or a live handle (the caller's contract).
    match unsafe { policy.as_ref() } {
        Some(p) => serde_json::to_string(&p.pool.status())
            .map(c_string)
            .unwrap_or(std::ptr::null_mut()),
        None => std::ptr::null_mut(),
    }
}
