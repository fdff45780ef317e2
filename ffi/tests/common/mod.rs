//! What the C ABI tests share: handles freed on drop, strings taken back, and the calls a
//! C caller makes most.
#![allow(dead_code, unsafe_code, clippy::unwrap_used)]

use std::ffi::{CStr, CString, c_char};
use std::ptr::{null, null_mut};

use forge_authz::*;

pub fn take(s: *mut c_char) -> String {
    assert!(!s.is_null());
    // SAFETY: returned by the library, freed once below.
    let text = unsafe { CStr::from_ptr(s) }.to_str().unwrap().to_string();
    unsafe { fa_string_free(s) };
    text
}

pub struct Policy(pub *mut fa_policy);
impl Drop for Policy {
    fn drop(&mut self) {
        unsafe { fa_policy_free(self.0) }
    }
}
pub struct World(pub *mut fa_world);
impl Drop for World {
    fn drop(&mut self) {
        unsafe { fa_world_free(self.0) }
    }
}

pub fn policy(config: &str) -> Result<Policy, String> {
    let c = CString::new(config).unwrap();
    let mut out = null_mut();
    let mut err = null_mut();
    match unsafe { fa_policy_new(null(), 0, c.as_ptr(), &mut out, &mut err) } {
        FA_OK => Ok(Policy(out)),
        code => {
            assert_eq!(code, FA_ERROR);
            Err(take(err))
        }
    }
}

pub fn world(json: &str) -> World {
    let c = CString::new(json).unwrap();
    let mut out = null_mut();
    let mut err = null_mut();
    let code = unsafe { fa_world_new(c.as_ptr(), &mut out, &mut err) };
    assert_eq!(
        code,
        FA_OK,
        "{}",
        if err.is_null() {
            String::new()
        } else {
            take(err)
        }
    );
    World(out)
}

pub fn decide(p: &Policy, w: &World, request: &str) -> (i32, serde_json::Value) {
    let c = CString::new(request).unwrap();
    let mut out = null_mut();
    let code = unsafe { fa_decide(p.0, w.0, c.as_ptr(), &mut out) };
    let text = take(out);
    (
        code,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}
