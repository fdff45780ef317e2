//! IP allow lists as properties (README, "IP allow lists"), native only, over the generated
//! worlds of `support` (whose accounts and tokens carry lists drawn from `IP_LISTS`, and
//! whose requests come from one of `ADDRESSES`, so every invariant of `invariants.rs` and
//! the native/wasm differential hold with lists too): here each case's lists are drawn
//! again, and each request is asked from every address.
//!
//! 1. The address changes an answer only to or from `ip-not-allowed`, and an owner's list
//!    never turns an answer that conceals a target (`404`, the anonymous `401`) into one
//!    (an API route naming a repository and a namespace is decided target by target: the
//!    repository's owner may refuse the address before a hidden namespace is looked at,
//!    which tells nothing about that namespace).
//! 2. Anonymous requests never depend on the address (traces included).
//! 3. Without any list, the address changes nothing (traces included).
//! 4. A batch decides each target exactly as one `authorize` with the same address.
//! 5. Ref permissions from an address are empty whenever the push from it is refused.
// Property tests: a broken generator or a failed property stops the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing)]

mod support;

use forge_authz_guest::policy::ip::OWNER_MESSAGE;
use forge_authz_guest::policy::{Credential, Decision, Reason, Request};
use proptest::prelude::*;
use support::*;

/// The case with lists: account `k` gets `lists[k % len]`, the token `token`.
fn listed(s: &Scenario, lists: &[usize], token: usize) -> Case {
    let mut case = s.build();
    for (u, i) in case.world.users.iter_mut().zip(lists.iter().cycle()) {
        u.ip_allow = ip_list(*i);
    }
    let id = case.record.id.clone();
    case.world.set_token_ip_allow(&id, &ip_list(token));
    case
}

/// The answer to the case's call from `address`, facts from its world.
fn answer(case: &Case, address: Option<&str>) -> Answer {
    case.call()
        .from(address)
        .run(case.authz(), &mut WorldFacts::new(&case.world))
}

/// The decisions of an answer (none for ref permissions).
fn decisions(a: Answer) -> Vec<Decision> {
    match a.without_trace() {
        Answer::One(d) => vec![d],
        Answer::Batch(ds) => ds,
        Answer::Perms(_) => vec![],
    }
}

/// An answer that tells no more than a missing target would.
fn conceals(d: &Decision) -> bool {
    matches!(
        d.reason,
        Reason::RepositoryNotFound | Reason::NamespaceNotFound | Reason::AuthenticationRequired
    )
}

fn lists() -> impl Strategy<Value = (Vec<usize>, usize)> {
    (
        proptest::collection::vec(0..IP_LISTS.len(), 1..12),
        0..IP_LISTS.len(),
    )
}

proptest! {
    #![proptest_config(proptest_config())]

    /// 1. The address changes an answer only to or from `ip-not-allowed`; an owner's
    /// refusal never stands where another address gets a concealing answer.
    #[test]
    fn the_address_only_adds_ip_refusals(s in scenario(), (l, t) in lists()) {
        let case = listed(&s, &l, t);
        let two_targets = matches!(
            &case.ask,
            Ask::One(Request::Api(a)) if a.repository.is_some() && a.namespace.is_some()
        );
        let base = decisions(answer(&case, ADDRESSES[1]));
        for address in ADDRESSES {
            let other = decisions(answer(&case, *address));
            prop_assert_eq!(other.len(), base.len());
            for (a, b) in base.iter().zip(&other) {
                if a == b {
                    continue;
                }
                let ip = [a, b].into_iter().find(|d| d.reason == Reason::IpNotAllowed);
                prop_assert!(ip.is_some(), "{:?} / {:?} from {:?}", a, b, address);
                for (x, y) in [(a, b), (b, a)] {
                    let owner = x.reason == Reason::IpNotAllowed
                        && x.message.as_deref() == Some(OWNER_MESSAGE);
                    prop_assert!(!(owner && conceals(y) && !two_targets), "{:?} / {:?}", x, y);
                }
            }
        }
    }

    /// 2. Anonymous requests never depend on the address. 3. Nor does anything when no
    /// list applies anywhere.
    #[test]
    fn the_address_is_ignored_without_a_credential_or_a_list(
        s in scenario(), (l, t) in lists(), unlisted in proptest::bool::ANY
    ) {
        let (l, t) = if unlisted { (vec![0], 0) } else { (l, t) };
        let case = listed(&s, &l, t);
        let anonymous = matches!(case.call().credential(), Credential::Anonymous)
            && case.call().also_presented().is_empty();
        if unlisted || anonymous {
            let base = answer(&case, None);
            for address in ADDRESSES {
                prop_assert_eq!(&answer(&case, *address), &base, "from {:?}", address);
            }
        }
    }

    /// 4. A batch decides each target exactly as one `authorize` from the same address.
    #[test]
    fn a_batch_agrees_with_authorize_from_every_address(
        s in scenario_of(mostly_live_token(), any_credential(), batch_ask()),
        (l, t) in lists(),
    ) {
        let case = listed(&s, &l, t);
        let Ask::Batch { repositories: paths, .. } = &case.ask else {
            unreachable!()
        };
        for address in ADDRESSES {
            let batch = decisions(answer(&case, *address));
            prop_assert_eq!(batch.len(), paths.len());
            for (p, d) in paths.iter().zip(batch) {
                let single = case.one_of_batch(p).unwrap();
                let one = decisions(answer(&single, *address));
                prop_assert_eq!(&vec![d], &one, "target {} from {:?}", p, address);
            }
        }
    }

    /// 5. Ref permissions from an address are empty whenever that address gets
    /// `ip-not-allowed` for the push they derive from.
    #[test]
    fn ref_permissions_are_empty_outside_a_list(
        s in scenario_of(mostly_live_token(), any_credential(), perms_ask()),
        (l, t) in lists(),
    ) {
        let case = listed(&s, &l, t);
        let Call::Perms(r) = case.call() else { unreachable!() };
        for address in ADDRESSES {
            let mut perms = r.clone();
            perms.client_address = address.map(str::to_string);
            let push = perms.push(vec![]);
            let d = case.authz().authorize(&push, &mut WorldFacts::new(&case.world));
            let Answer::Perms(g) = answer(&case, *address) else { unreachable!() };
            if d.reason == Reason::IpNotAllowed {
                prop_assert!(g.refs.iter().all(|p| !p.create && !p.push && !p.force_push));
            }
        }
    }
}
