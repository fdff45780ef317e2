// Conversions between WIT values (`wit::*`) and the policy core (`policy::*`), by value.
//
// This file is not a module of its own: it is `include!`d with two different `wit` modules
// in scope — the guest's wit-bindgen types (`src/component.rs`) and the host's wasmtime
// bindgen types (`forge_authz_host::wit`, for the host's code tables and the native test
// engine) — so every side converts with the very same code, and every code, status and
// message comes from the core. Each includer brings `wit` (a flat module naming every WIT
// type) and `policy` into scope.
//
// One trait, [`Convert`], converts a value to its twin on the other side. Each WIT record,
// variant or flags type is listed once, in a `two_way!` row naming its fields, cases or
// flags, and converted both ways from that one list (field by field, through `Convert`
// again: lists, options and results element by element, strings, numbers and booleans as
// they are).
// Only the few types whose two sides differ in shape are written by hand (route flags
// spread over fields, verdicts, basic credentials); a list the WIT leaves out when empty
// (a `repository`'s protected refs, a request's `also-presented`) is named as such in its
// row. A row's `as in_fn, out_fn` names the two functions callers use: `*_in` goes
// from WIT to the core, `*_out` from the core to WIT. One file per concern, included
// together: this one (the trait, shared values, configuration, facts),
// `convert_request.rs` (credentials and requests), `convert_decision.rs` (verdicts and
// decisions), `convert_lifecycle.rs` (token records and lifecycle calls).

/// A value converted to its twin on the other side of the WIT (either direction).
pub trait Convert<T> {
    /// The twin.
    fn convert(self) -> T;
}

/// Values that are the same type on both sides.
macro_rules! same_both_sides {
    ($($t:ty),*) => {
        $(impl Convert<$t> for $t {
            fn convert(self) -> $t {
                self
            }
        })*
    };
}

same_both_sides!(String, bool, u8, u16, u32, u64, i32, i64);

impl<A: Convert<B>, B> Convert<Vec<B>> for Vec<A> {
    fn convert(self) -> Vec<B> {
        self.into_iter().map(Convert::convert).collect()
    }
}

impl<A: Convert<B>, B> Convert<Option<B>> for Option<A> {
    fn convert(self) -> Option<B> {
        self.map(Convert::convert)
    }
}

impl<A: Convert<B>, B, E: Convert<F>, F> Convert<Result<B, F>> for Result<A, E> {
    fn convert(self) -> Result<B, F> {
        self.map(Convert::convert).map_err(Convert::convert)
    }
}

/// A list the WIT leaves out (`none`) when it is empty, always present in the core: in.
#[allow(dead_code)]
fn listed_in<A: Convert<B>, B>(list: Option<Vec<A>>) -> Vec<B> {
    list.unwrap_or_default().convert()
}

/// A list the WIT leaves out (`none`) when it is empty, always present in the core: out.
#[allow(dead_code)]
fn listed_out<A: Convert<B>, B>(list: Vec<A>) -> Option<Vec<B>> {
    (!list.is_empty()).then(|| list.convert())
}

/// One WIT type and its core twin, converted both ways from one list: a `record` by its
/// fields (after `; unlisted_if_empty`, the list fields the WIT leaves out when empty), a
/// `variant` (or enum) by its cases (a case's payload converted too), `flags` by the core's
/// boolean field behind each flag. `as in_fn, out_fn` adds the two named functions.
macro_rules! two_way {
    (record $wit:ident <-> $core:ident {
        $($f:ident),* $(,)? $(; unlisted_if_empty $($l:ident),+ $(,)?)?
    } $(as $in:ident, $out:ident)?) => {
        impl Convert<policy::$core> for wit::$wit {
            fn convert(self) -> policy::$core {
                policy::$core { $($f: self.$f.convert(),)* $($($l: listed_in(self.$l),)+)? }
            }
        }
        impl Convert<wit::$wit> for policy::$core {
            fn convert(self) -> wit::$wit {
                wit::$wit { $($f: self.$f.convert(),)* $($($l: listed_out(self.$l),)+)? }
            }
        }
        two_way!(@named $wit $core $($in $out)?);
    };
    (variant $wit:ident <-> $core:ident { $($v:ident $(($p:ident))?),* $(,)? } $(as $in:ident, $out:ident)?) => {
        impl Convert<policy::$core> for wit::$wit {
            fn convert(self) -> policy::$core {
                match self { $(wit::$wit::$v $(($p))? => policy::$core::$v $(($p.convert()))?,)* }
            }
        }
        impl Convert<wit::$wit> for policy::$core {
            fn convert(self) -> wit::$wit {
                match self { $(policy::$core::$v $(($p))? => wit::$wit::$v $(($p.convert()))?,)* }
            }
        }
        two_way!(@named $wit $core $($in $out)?);
    };
    (flags $wit:ident <-> $core:ident { $($f:ident = $flag:ident),* $(,)? } $(as $in:ident, $out:ident)?) => {
        impl Convert<policy::$core> for wit::$wit {
            fn convert(self) -> policy::$core {
                policy::$core { $($f: self.contains(wit::$wit::$flag),)* }
            }
        }
        impl Convert<wit::$wit> for policy::$core {
            fn convert(self) -> wit::$wit {
                let mut out = wit::$wit::empty();
                $(if self.$f {
                    out |= wit::$wit::$flag;
                })*
                out
            }
        }
        two_way!(@named $wit $core $($in $out)?);
    };
    (@named $wit:ident $core:ident) => {};
    (@named $wit:ident $core:ident $in:ident $out:ident) => {
        #[allow(dead_code)]
        pub fn $in(x: wit::$wit) -> policy::$core {
            x.convert()
        }
        #[allow(dead_code)]
        pub fn $out(x: policy::$core) -> wit::$wit {
            x.convert()
        }
    };
}

#[allow(dead_code)]
pub fn hash_in(h: wit::Hash256) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (chunk, w) in out.chunks_exact_mut(8).zip([h.w0, h.w1, h.w2, h.w3]) {
        chunk.copy_from_slice(&w.to_be_bytes());
    }
    out
}

#[allow(dead_code)]
pub fn hash_out(b: &[u8; 32]) -> wit::Hash256 {
    let word = |i: usize| {
        let mut w = [0u8; 8];
        if let Some(s) = b.get(i * 8..i * 8 + 8) {
            w.copy_from_slice(s);
        }
        u64::from_be_bytes(w)
    };
    wit::Hash256 {
        w0: word(0),
        w1: word(1),
        w2: word(2),
        w3: word(3),
    }
}

impl Convert<[u8; 32]> for wit::Hash256 {
    fn convert(self) -> [u8; 32] {
        hash_in(self)
    }
}

impl Convert<wit::Hash256> for [u8; 32] {
    fn convert(self) -> wit::Hash256 {
        hash_out(&self)
    }
}

two_way!(variant SecretDigest <-> SecretDigest { HmacTag(h), Sha256(h) } as digest_in, digest_out);
two_way!(variant Visibility <-> Visibility { Public, Limited, Private } as visibility_in, visibility_out);
two_way!(variant Role <-> Role { None, Read, Write, Admin } as role_in, role_out);
two_way!(record SigningKey <-> SigningKey { id, secret });
two_way!(record Options <-> Options {
    binding_fallback_to_anonymous,
    require_expiry,
    max_lifetime,
    min_lifetime,
} as options_in, options_out);
two_way!(record Config <-> Config { keys, signing_key_id, options, site } as config_in, config_out);
two_way!(variant ConfigError <-> ConfigError {
    NoKeys,
    BadKeyId(s),
    DuplicateKeyId(s),
    WeakKey(s),
    UnknownSigningKey(s),
    BadSite(s),
} as config_error_in, config_error_out);
two_way!(variant AccountStatus <-> AccountStatus { Active, Inactive, Suspended });
two_way!(record UserFacts <-> UserFacts {
    status,
    site_admin,
    visibility,
    organization,
} as user_in, user_out);
two_way!(variant RefAccess <-> RefAccess { Writers, Admins, Users(u), Nobody } as ref_access_in, ref_access_out);
two_way!(variant RepositoryKind <-> RepositoryKind { Hosted, Mirror, Import });
two_way!(record ProtectedRef <-> ProtectedRef { pattern, push, force_push });

// A repository without protected refs: `none` in the WIT, an empty list in the core.
two_way!(record RepositoryFacts <-> RepositoryFacts {
    owner_visibility,
    private,
    kind,
    archived,
    role,
    registrant,
    owner_ip_allow;
    unlisted_if_empty protected_refs
} as repository_in, repository_out);
two_way!(record NamespaceFacts <-> NamespaceFacts {
    organization,
    visibility,
    member_role,
    ip_allow,
} as namespace_in, namespace_out);
two_way!(record TokenBinding <-> Binding { repositories, owners });
two_way!(record TokenFacts <-> TokenFacts {
    owner,
    scopes,
    binding,
    child,
    rotated,
    last_used,
    expires,
    revoked,
    secret,
    ip_allow,
} as token_facts_in, token_facts_out);
two_way!(record FactAnswer <-> FactAnswer {
    token,
    owner,
    account,
    sudo,
    repository,
    namespace,
} as answer_in, answer_out);
