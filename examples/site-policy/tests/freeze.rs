//! The change freeze natively: its site data, and its verdicts on what the core allowed
//! (issue 23: "during windows listed in the site configuration, writes (push, API writes)
//! are refused with a site reason, reads and administrators unaffected").

use forge_authz_guest::policy::scope::Categories;
use forge_authz_guest::policy::{
    ApiRequest, CreationRequest, CreationStep, GitAction, GitRequest, Method, RefChange, RefUpdate,
    Request, Role, Transport,
};
use forge_authz_guest::site::{Acting, Asked, Refusal, Site};
use site_policy::SitePolicy;
use site_policy::freeze::CODE;

/// 2026-12-24T00:00:00Z .. 2026-12-27T00:00:00Z.
const FROM: i64 = 1_798_070_400;
const UNTIL: i64 = 1_798_329_600;

fn site(data: &str) -> Result<SitePolicy, String> {
    SitePolicy::new(data)
}

fn holidays() -> SitePolicy {
    let data = format!(
        r#"{{"freeze":{{"windows":[{{"from":{FROM},"until":{UNTIL},"reason":"year-end holidays"}}]}}}}"#
    );
    match site(&data) {
        Ok(s) => s,
        Err(e) => unreachable!("valid site data refused: {e}"),
    }
}

fn git(action: GitAction) -> Request {
    Request::Git(GitRequest {
        transport: Transport::Http,
        repository: "alice/app".into(),
        action,
        refs: match action {
            GitAction::Push => vec![RefUpdate {
                name: "refs/heads/main".into(),
                change: RefChange::Update,
                force: false,
            }],
            GitAction::Pull => Vec::new(),
        },
    })
}

fn api(method: Method) -> Request {
    Request::Api(ApiRequest {
        method,
        categories: Categories::NONE,
        repository: Some("alice/app".into()),
        namespace: None,
        requires_auth: true,
        admin_only: false,
        required_role: Role::Write,
        operation: None,
        sudo: None,
        package: false,
        writes_content: true,
        creates_in_own_namespace: false,
    })
}

fn create() -> Request {
    Request::Create(CreationRequest {
        transport: Transport::Ssh,
        repository: "alice/new".into(),
        step: CreationStep::PushToCreate,
    })
}

/// The freeze's verdict on `request` at `now`, for alice (a site administrator or not).
fn verdict(
    site: &SitePolicy,
    request: &Request,
    now: i64,
    site_admin: bool,
) -> Result<(), Refusal> {
    site.check(&Asked {
        request,
        now,
        acting: Acting {
            user: Some("alice"),
            site_admin,
        },
    })
}

/// A refusal by the freeze, naming the window's reason and its end.
fn says(refusal: &Refusal, reason: &str, end: &str) {
    assert_eq!(refusal.code, CODE);
    for part in [reason, end] {
        assert!(
            refusal.message.contains(part),
            "{part:?}: {}",
            refusal.message
        );
    }
}

/// Inside a window: writes refused naming the window, reads unaffected.
#[test]
fn inside_a_window_writes_are_refused_naming_it_and_reads_are_unaffected() {
    let s = holidays();
    let writes = [
        git(GitAction::Push),
        api(Method::Post),
        api(Method::Delete),
        create(),
    ];
    let reads = [
        git(GitAction::Pull),
        api(Method::Get),
        api(Method::Head),
        api(Method::Options),
    ];
    for request in &writes {
        let refusal = verdict(&s, request, FROM + 60, false).err();
        let Some(refusal) = refusal else {
            unreachable!("{request:?} allowed during the freeze")
        };
        says(&refusal, "year-end holidays", "2026-12-27T00:00:00Z");
    }
    for request in &reads {
        assert_eq!(
            verdict(&s, request, FROM + 60, false),
            Ok(()),
            "{request:?}"
        );
    }
    // A method sent by name reads or writes as the core says (reference §1.6).
    let named = |m: &str| verdict(&s, &api(Method::Other(m.into())), FROM, false);
    assert_eq!(named("get"), Ok(()));
    assert!(named("PROPPATCH").is_err());
}

#[test]
fn site_administrators_are_unaffected() {
    let s = holidays();
    for request in [git(GitAction::Push), api(Method::Post), create()] {
        assert_eq!(
            verdict(&s, &request, FROM + 60, true),
            Ok(()),
            "{request:?}"
        );
    }
}

#[test]
fn a_window_holds_from_its_start_until_just_before_its_end() {
    let s = holidays();
    let push = git(GitAction::Push);
    assert_eq!(verdict(&s, &push, FROM - 1, false), Ok(()));
    assert!(verdict(&s, &push, FROM, false).is_err());
    assert!(verdict(&s, &push, UNTIL - 1, false).is_err());
    assert_eq!(verdict(&s, &push, UNTIL, false), Ok(()));
}

#[test]
fn overlapping_windows_name_the_one_ending_last() {
    let s = site(&format!(
        r#"{{"freeze":{{"windows":[
            {{"from":{FROM},"until":{UNTIL},"reason":"holidays"}},
            {{"from":{FROM},"until":{},"reason":"release 4.0"}}]}}}}"#,
        UNTIL + 86_400
    ));
    let Ok(s) = s else { unreachable!("{s:?}") };
    let Err(refusal) = verdict(&s, &git(GitAction::Push), FROM + 1, false) else {
        unreachable!("push allowed during the freeze")
    };
    says(&refusal, "release 4.0", "2026-12-28T00:00:00Z");
}

#[test]
fn no_site_data_means_no_freeze() {
    for data in ["", "  ", "{}", r#"{"freeze":{"windows":[]}}"#] {
        let Ok(s) = site(data) else {
            unreachable!("{data:?} refused")
        };
        assert_eq!(
            verdict(&s, &git(GitAction::Push), FROM, false),
            Ok(()),
            "{data:?}"
        );
    }
}

#[test]
fn unusable_site_data_is_refused_with_why() {
    let bad = [
        ("not json", "site data"),
        (r#"{"frezee":{"windows":[]}}"#, "unknown field"),
        (r#"{"freeze":{"windows":[{"from":1,"until":2}]}}"#, "reason"),
        (
            r#"{"freeze":{"windows":[{"from":5,"until":5,"reason":"x"}]}}"#,
            "before",
        ),
        (
            r#"{"freeze":{"windows":[{"from":-5,"until":5,"reason":"x"}]}}"#,
            "1970",
        ),
        (
            r#"{"freeze":{"windows":[{"from":1,"until":2,"reason":" "}]}}"#,
            "reason",
        ),
        (
            r#"{"freeze":{"windows":[{"from":1,"until":2,"reason":"a\nb"}]}}"#,
            "control",
        ),
        (
            r#"{"freeze":{"windows":[{"from":1,"until":2,"reason":"x","by":"me"}]}}"#,
            "unknown field",
        ),
    ];
    for (data, why) in bad {
        match site(data) {
            Ok(s) => unreachable!("{data:?} accepted: {s:?}"),
            Err(e) => assert!(e.contains(why), "{data:?}: {e}"),
        }
    }
}
