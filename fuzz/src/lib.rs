//! Shared fixtures of the fuzz targets (`fuzz_targets/*.rs`): the fixed test keys,
//! authorizers and engines, genuine tokens minted with fixed entropy, the byte-edit
//! machinery of `token_mutate`, the fuzz [`world`] (a `policy::Facts` that records what it
//! is asked), the oracle's own reading of the credential and query rules
//! ([`effective_secret`], [`strictly_anonymous`], [`expected_query`]), and (in [`mirror`])
//! the `Arbitrary` mirror of an `AuthorizeRequest` and its world that `decide` builds its
//! inputs from. The guest crate derives nothing for fuzzing: every conversion lives here.

pub mod mirror;
pub mod world;

use forge_authz_guest::policy::token::{self, ENTROPY_BYTES};
use forge_authz_guest::policy::{
    Account, AccountStatus, Actor, AuthorizeRequest, Authorizer, BoundRepository, Config,
    CreationStep, Credential, Engine, GitAction, GitRequest, IssueRequest, KeyKind, Options,
    RepositoryFacts, RepositoryKind, Request, Role, SecretDigest, SigningKey, Timestamp,
    TokenRecord, Transport, UserFacts, Viewer, Visibility,
};

use world::{Query, RepoEntry, World};

/// The fixed "now" around which every fuzzed timestamp is drawn.
pub const NOW: Timestamp = 1_750_000_000;
/// Genuine tokens were minted a day before [`NOW`] and expire a week after it.
pub const ISSUED_AT: Timestamp = NOW - 86_400;
/// Expiry of the genuine tokens.
pub const EXPIRES_AT: Timestamp = NOW + 7 * 86_400;

/// Test-only HMAC keys (at least 32 bytes): not secrets, never used outside fuzzing.
pub const KEY_K1: &[u8] = b"forge-authz fuzzing key k1 - not a secret";
/// Second key, so that a key-id edit can name another configured key.
pub const KEY_K2: &[u8] = b"forge-authz fuzzing key k2 - not a secret";

/// The characters a token may contain.
pub const TOKEN_ALPHABET: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";

/// Whether every byte of `s` is in [`TOKEN_ALPHABET`].
pub fn token_charset(s: &str) -> bool {
    s.bytes().all(|b| TOKEN_ALPHABET.contains(&b))
}

/// A configuration with `keys` and `signing` as the signing key id.
pub fn config(keys: &[(&str, &[u8])], signing: &str, options: Options) -> Config {
    Config {
        site: String::new(),
        keys: keys
            .iter()
            .map(|(id, secret)| SigningKey {
                id: (*id).to_string(),
                secret: secret.to_vec(),
            })
            .collect(),
        signing_key_id: signing.to_string(),
        options,
    }
}

/// The configuration of `token_parse`: key `k1` only.
pub fn one_key_config() -> Config {
    config(&[("k1", KEY_K1)], "k1", Options::default())
}

/// The single-key authorizer of `token_parse`: key `k1` only.
pub fn one_key_authorizer() -> Authorizer {
    Authorizer::new(&one_key_config()).expect("fixed test config is valid")
}

/// The configuration knowing `k1` and `k2`, signing with `signing`.
pub fn two_key_config(signing: &str, options: Options) -> Config {
    config(&[("k1", KEY_K1), ("k2", KEY_K2)], signing, options)
}

/// An authorizer knowing `k1` and `k2`, signing with `signing`.
pub fn two_key_authorizer(signing: &str, options: Options) -> Authorizer {
    Authorizer::new(&two_key_config(signing, options)).expect("fixed test config is valid")
}

/// An engine (authorizer and token cache, empty) knowing `k1` and `k2`.
pub fn two_key_engine(signing: &str, options: Options) -> Engine {
    Engine::new(&two_key_config(signing, options)).expect("fixed test config is valid")
}

/// Facts of an active, ordinary (or site-admin) user.
pub fn active_user(site_admin: bool) -> UserFacts {
    UserFacts {
        status: AccountStatus::Active,
        site_admin,
        visibility: Visibility::Public,
        organization: false,
    }
}

/// Facts of a private hosted repository where the viewer has `role`, registered by
/// `registrant`.
pub fn private_repository(registrant: &str, role: Role) -> RepositoryFacts {
    RepositoryFacts {
        owner_ip_allow: Vec::new(),
        owner_visibility: Visibility::Public,
        private: true,
        kind: RepositoryKind::Hosted,
        archived: false,
        role,
        protected_refs: Vec::new(),
        registrant: Some(registrant.to_string()),
    }
}

/// A token minted through `Authorizer::issue`, with the record the host would store.
#[derive(Clone, Debug)]
pub struct Genuine {
    /// The secret (the whole token string).
    pub secret: String,
    /// Its record, as issued (`secret` is the token's HMAC tag).
    pub record: TokenRecord,
    /// Facts of its (active) owner, `record.owner`.
    pub owner: UserFacts,
}

/// What to mint: `(owner, site admin, token name, scopes, bound repositories, signing
/// key id, entropy)`.
type Spec = (
    &'static str,
    bool,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    &'static str,
    [u8; ENTROPY_BYTES],
);

const fn pattern(mul: u8, add: u8) -> [u8; ENTROPY_BYTES] {
    let mut out = [0u8; ENTROPY_BYTES];
    let mut i = 0;
    while i < ENTROPY_BYTES {
        out[i] = (i as u8).wrapping_mul(mul).wrapping_add(add);
        i += 1;
    }
    out
}

/// The genuine tokens every target starts from (fixed entropy, so fixed strings).
const SPECS: [Spec; 4] = [
    (
        "alice",
        false,
        "laptop",
        &["write:repository"],
        &[],
        "k1",
        [0u8; ENTROPY_BYTES],
    ),
    (
        "alice",
        false,
        "ci",
        &["read:repository", "write:issue"],
        &["alice/app"],
        "k1",
        [0xffu8; ENTROPY_BYTES],
    ),
    (
        "bob",
        false,
        "public",
        &["public-only", "write:repository", "read:user"],
        &[],
        "k2",
        pattern(1, 0),
    ),
    (
        "carol",
        true,
        "admin",
        &["all", "user:token"],
        &[],
        "k1",
        pattern(37, 11),
    ),
];

/// Mint the genuine tokens of [`SPECS`] with the two-key configuration.
pub fn genuine_tokens() -> Vec<Genuine> {
    SPECS
        .iter()
        .map(|(owner, admin, name, scopes, repos, signing, entropy)| {
            let auth = two_key_authorizer(signing, Options::default());
            let user = active_user(*admin);
            let request = IssueRequest {
                owner: (*owner).to_string(),
                name: (*name).to_string(),
                scopes: scopes.iter().map(|s| (*s).to_string()).collect(),
                repositories: repos.iter().map(|s| (*s).to_string()).collect(),
                owners: Vec::new(),
                expires: Some(EXPIRES_AT),
                now: ISSUED_AT,
                creator: Actor::Session(Account {
                    name: (*owner).to_string(),
                    facts: user,
                }),
                existing_names: Vec::new(),
                bound_facts: repos
                    .iter()
                    .map(|path| BoundRepository {
                        repository: (*path).to_string(),
                        facts: Some(private_repository(owner, Role::Admin)),
                    })
                    .collect(),
                ip: None,
            };
            let issued = auth
                .issue(&request, Some(entropy))
                .unwrap_or_else(|e| panic!("fixture token {name} not minted: {e:?}"));
            Genuine {
                secret: issued.secret,
                record: issued.record,
                owner: user,
            }
        })
        .collect()
}

/// A world holding genuine token `g`'s record, its active owner, and `repo` at `path`.
pub fn genuine_world(g: &Genuine, path: &str, repo: RepositoryFacts) -> World {
    World {
        records: vec![g.record.clone()],
        users: vec![(g.record.owner.clone(), g.owner)],
        repositories: vec![RepoEntry {
            path: path.to_string(),
            facts: repo,
            roles: Vec::new(),
            anonymous_role: Role::None,
        }],
        namespaces: Vec::new(),
        log: Vec::new(),
    }
}

/// Recompute the CRC-32 field: everything after the last `.` becomes the checksum of
/// everything before it (what any forger can do: the checksum is not keyed).
pub fn fix_crc(s: &str) -> String {
    match s.rfind('.') {
        Some(i) => {
            let head = &s[..i];
            format!("{head}.{:08x}", token::crc32(head.as_bytes()))
        }
        None => s.to_string(),
    }
}

/// Apply one edit to `bytes`: `op` selects the kind, `pos` the place (modulo the
/// length), `val` the byte. Edits that cannot apply (e.g. on an empty string) do nothing.
pub fn apply_edit(bytes: &mut Vec<u8>, op: u8, pos: u8, val: u8) {
    let len = bytes.len();
    let at = if len == 0 { 0 } else { usize::from(pos) % len };
    let at_incl = usize::from(pos) % (len + 1);
    match op % 8 {
        // Replace with any byte.
        0 if len > 0 => bytes[at] = val,
        // Replace with a character of the token alphabet (stays well-formed longer).
        1 if len > 0 => bytes[at] = TOKEN_ALPHABET[usize::from(val) % TOKEN_ALPHABET.len()],
        // Flip bits.
        2 if len > 0 => bytes[at] ^= val,
        // Insert an alphabet character.
        3 => bytes.insert(
            at_incl,
            TOKEN_ALPHABET[usize::from(val) % TOKEN_ALPHABET.len()],
        ),
        // Delete one byte.
        4 if len > 0 => {
            bytes.remove(at);
        }
        // Truncate.
        5 => bytes.truncate(at_incl),
        // Swap two bytes.
        6 if len > 0 => bytes.swap(at, (at + usize::from(val)) % len),
        // Change ASCII case of one byte.
        7 if len > 0 => {
            let b = bytes[at];
            bytes[at] = if b.is_ascii_lowercase() {
                b.to_ascii_uppercase()
            } else {
                b.to_ascii_lowercase()
            };
        }
        _ => {}
    }
}

/// Apply edits given as `(op, pos, val)` triples, optionally fix the checksum, and make
/// a string of the result (lossily when the edits broke UTF-8: that is a different
/// string too).
pub fn edited(secret: &str, edits: &[[u8; 3]], fix_checksum: bool) -> String {
    let mut bytes = secret.as_bytes().to_vec();
    for [op, pos, val] in edits {
        apply_edit(&mut bytes, *op, *pos, *val);
    }
    let s = String::from_utf8_lossy(&bytes).into_owned();
    if fix_checksum { fix_crc(&s) } else { s }
}

/// The secret the policy will treat as the presented token: the credential's (Bearer;
/// Basic password, or username when the password is empty or `x-oauth-basic`), else the
/// first non-empty `also_presented` one. Mirrors the README's rule independently of the
/// guest's code.
pub fn effective_secret(request: &AuthorizeRequest) -> Option<&str> {
    credential_secret(&request.credential).or_else(|| {
        request
            .also_presented
            .iter()
            .find(|t| !t.is_empty())
            .map(String::as_str)
    })
}

/// The token a credential itself carries (see [`effective_secret`]).
pub fn credential_secret(credential: &Credential) -> Option<&str> {
    match credential {
        Credential::Bearer(t) => Some(t.as_str()),
        Credential::Basic { username, password } => {
            if password.is_empty() || password == "x-oauth-basic" {
                Some(username.as_str())
            } else {
                Some(password.as_str())
            }
        }
        Credential::Anonymous | Credential::SshKey(_) | Credential::Session(_) => None,
    }
}

/// Anonymous in the strict sense: no credential and no token anywhere in the request.
pub fn strictly_anonymous(request: &AuthorizeRequest) -> bool {
    matches!(request.credential, Credential::Anonymous)
        && request.also_presented.iter().all(String::is_empty)
}

/// The owner part of `owner/name` (the whole string without a `/`).
pub fn owner_part(path: &str) -> &str {
    path.split_once('/').map_or(path, |(o, _)| o)
}

/// The one fact query the README and `wit/facts.wit` say a decision of `request` makes,
/// when the presented token (if any) verified with id `token_id`: the token (its record
/// and owner) or else the account behind a session or SSH user key; the `sudo` target;
/// the request's repository; the namespace (an API route's, the owner a repository is
/// created under); the viewer (`sudo`, else the token's owner, else the account, else
/// anonymous); the registrant for a creation's confirm and abort. Written from the
/// contract, not from the guest's code.
pub fn expected_query(request: &AuthorizeRequest, token_id: Option<&str>) -> Query {
    let (repository, namespace, sudo, registrant) = match &request.request {
        Request::Git(g) => (Some(g.repository.clone()), None, None, false),
        Request::Create(c) => (
            Some(c.repository.clone()),
            Some(owner_part(&c.repository).to_string()),
            None,
            matches!(c.step, CreationStep::Confirm | CreationStep::Abort),
        ),
        Request::Api(a) => (
            a.repository.clone(),
            a.namespace.clone(),
            a.sudo.clone(),
            false,
        ),
    };
    let account = match (&request.credential, token_id) {
        (_, Some(_)) => None,
        (Credential::Session(name), None) => Some(name.clone()),
        (Credential::SshKey(k), None) if k.kind == KeyKind::User => Some(k.owner.clone()),
        _ => None,
    };
    let viewer = if sudo.is_some() {
        Viewer::Sudo
    } else if token_id.is_some() {
        Viewer::TokenOwner
    } else if account.is_some() {
        Viewer::Account
    } else {
        Viewer::Anonymous
    };
    Query {
        token: token_id.map(str::to_string),
        account,
        sudo,
        repository,
        namespace,
        viewer,
        registrant,
    }
}

/// Whether a stored digest binds a record to `secret`, computed from the contract (the
/// tag field of the token, or SHA-256 of the whole string), not with the guest's check.
pub fn digest_binds(secret: &str, digest: &SecretDigest) -> bool {
    match digest {
        SecretDigest::HmacTag(tag) => token::parse(secret).is_ok_and(|p| p.tag == *tag),
        SecretDigest::Sha256(hash) => token::secret_hash(secret) == *hash,
    }
}

/// A git pull of `path` with credential `credential`, at [`NOW`].
pub fn pull(credential: Credential, path: &str) -> AuthorizeRequest {
    AuthorizeRequest {
        client_address: None,
        credential,
        also_presented: Vec::new(),
        request: Request::Git(GitRequest {
            transport: Transport::Http,
            repository: path.to_string(),
            action: GitAction::Pull,
            refs: Vec::new(),
        }),
        now: NOW,
        explain: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use forge_authz_guest::policy::{Reason, Status};
    use world::Call;

    #[test]
    fn fixtures_are_genuine_and_granted() {
        let auth = two_key_authorizer("k1", Options::default());
        for g in genuine_tokens() {
            let v = auth
                .verify(&Credential::Bearer(g.secret.clone()))
                .expect("genuine verifies")
                .expect("a token");
            assert_eq!(v.token_id, g.record.id);
            let tag = token::parse(&g.secret).expect("parses").tag;
            assert_eq!(g.record.secret, SecretDigest::HmacTag(tag));
            assert!(digest_binds(&g.secret, &g.record.secret));
            assert!(digest_binds(
                &g.secret,
                &SecretDigest::Sha256(token::secret_hash(&g.secret))
            ));
            assert!(!digest_binds(&g.secret, &SecretDigest::HmacTag([0; 32])));
        }
        let g = &genuine_tokens()[0];
        let mut world = genuine_world(g, "alice/secret", private_repository("alice", Role::Admin));
        let mut request = pull(Credential::Bearer(g.secret.clone()), "alice/secret");
        if let Request::Git(git) = &mut request.request {
            git.action = GitAction::Push;
        }
        let d = auth.authorize(&request, &mut world);
        assert!(d.allow(), "{d:?}");
        assert_eq!(d.status(), Status::Ok);
        assert_eq!(d.reason, Reason::Granted);
        let log = world.take_log();
        assert_eq!(
            log,
            vec![Call::Lookup(expected_query(&request, Some(&g.record.id)))]
        );
        // A legacy (SHA-256) record of the same token is accepted too.
        world.records[0].secret = SecretDigest::Sha256(token::secret_hash(&g.secret));
        assert!(auth.authorize(&request, &mut world).allow());
        assert_eq!(World::lookups(&world.take_log()).len(), 1);
        // A forged token is refused before the world is asked anything.
        let forged = edited(&g.secret, &[[1, 20, 7]], true);
        let d = auth.authorize(
            &pull(Credential::Bearer(forged), "alice/secret"),
            &mut world,
        );
        assert_eq!(d.reason, Reason::TokenInvalid);
        assert!(
            world.take_log().is_empty(),
            "a forged token reached the store"
        );
    }

    #[test]
    fn edits_and_crc() {
        let g = &genuine_tokens()[0];
        assert_eq!(fix_crc(&g.secret), g.secret);
        assert_eq!(edited(&g.secret, &[], false), g.secret);
        assert_ne!(edited(&g.secret, &[[4, 0, 0]], false), g.secret);
    }
}
