//! How a `decide` corpus exercises the policy: counts first decisions by request kind,
//! credential kind and reason (and whether the world was asked, and how many inputs make
//! further calls). With `--pick OUT`, copies into `OUT` the smallest input
//! of each (request kind, credential kind, reason) combination: how the checked-in seed
//! corpus `corpus/decide` was chosen from a long run's corpus.
//!
//! ```sh
//! cd fuzz && cargo run --example decide_stats -- corpus/decide [more dirs]
//! cd fuzz && cargo run --example decide_stats -- --pick corpus/decide scratch/decide
//! ```

use std::collections::BTreeMap;

use arbitrary::{Arbitrary, Unstructured};
use forge_authz_fuzz::mirror::FDecide;
use forge_authz_fuzz::{genuine_tokens, two_key_authorizer};
use forge_authz_guest::policy::{Credential, Options, Request};

fn main() {
    let genuine = genuine_tokens();
    let strict = two_key_authorizer("k1", Options::default());
    let fallback = two_key_authorizer(
        "k1",
        Options {
            binding_fallback_to_anonymous: true,
            ..Options::default()
        },
    );
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut picks: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut files = 0;
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let pick = match args.first().map(String::as_str) {
        Some("--pick") if args.len() > 1 => {
            let out = args.remove(1);
            args.remove(0);
            Some(out)
        }
        _ => None,
    };
    for dir in args {
        for entry in std::fs::read_dir(&dir).expect("corpus directory") {
            let path = entry.expect("entry").path();
            let bytes = std::fs::read(&path).expect("read");
            let Ok(f) = FDecide::arbitrary_take_rest(Unstructured::new(&bytes)) else {
                continue;
            };
            files += 1;
            let case = f.case(&genuine);
            let auth = if case.fallback { &fallback } else { &strict };
            let mut world = case.world.clone();
            let d = auth.authorize(&case.request, &mut world);
            let asked = !world.take_log().is_empty();
            let input = &case.request;
            let kind = match &input.request {
                Request::Git(g) => format!("git-{:?}", g.action),
                Request::Create(c) => format!("create-{:?}", c.step),
                Request::Api(_) => "api".to_string(),
            };
            let cred = match &input.credential {
                Credential::Anonymous => "anonymous",
                Credential::Bearer(_) => "bearer",
                Credential::Basic { .. } => "basic",
                Credential::SshKey(_) => "ssh-key",
                Credential::Session(_) => "session",
            };
            *counts.entry(format!("request {kind}")).or_default() += 1;
            *counts.entry(format!("credential {cred}")).or_default() += 1;
            *counts
                .entry(format!("reason {}", d.reason.code()))
                .or_default() += 1;
            *counts
                .entry(format!(
                    "facts {}",
                    if asked { "asked" } else { "not asked" }
                ))
                .or_default() += 1;
            if !case.again.is_empty() {
                *counts.entry("with further calls".to_string()).or_default() += 1;
            }
            let key = format!("{kind}-{cred}-{}", d.reason.code()).to_lowercase();
            if picks.get(&key).is_none_or(|b| bytes.len() < b.len()) {
                picks.insert(key, bytes);
            }
        }
    }
    if let Some(out) = pick {
        std::fs::create_dir_all(&out).expect("create output directory");
        for (key, bytes) in &picks {
            std::fs::write(std::path::Path::new(&out).join(key), bytes).expect("write seed");
        }
        println!("{} seeds picked into {out}", picks.len());
    }
    println!("{files} inputs");
    for (k, n) in counts {
        println!("{n:6}  {k}");
    }
}
