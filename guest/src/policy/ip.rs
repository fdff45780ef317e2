//! IP allow lists (README, "IP allow lists"): address blocks in CIDR notation, IPv4 and
//! IPv6, and whether a client address is inside one. Plain text parsing, no `std::net`
//! (the core is `no_std` on wasm).
//!
//! Every address is held as 128 bits: an IPv4 address `a.b.c.d` is the IPv4-mapped IPv6
//! address `::ffff:a.b.c.d`, and an IPv4 block of length `n` the mapped block of length
//! `96 + n`. So a client that arrives as `::ffff:192.0.2.7` (an IPv6 socket accepting
//! IPv4) matches `192.0.2.0/24`, and the IPv6 block `::ffff:0:0/96` holds every IPv4
//! address.
//!
//! Parsing is strict and fails closed: a client address that does not parse is refused
//! wherever a list applies; a block that does not parse matches nothing. No zone index
//! (`fe80::1%eth0`), no brackets, no leading zeros in an IPv4 octet (`010` could be read
//! as octal), no port.
#[allow(unused_imports)]
use crate::prelude::*;

use super::decision::{Decision, Reason, Rule, Trace};
use super::model::TokenFacts;
use super::principal::Principal;

/// What a client outside an owner's list is told: that the owner restricts access by
/// address — never the list, never whether the address is close to one in it.
pub const OWNER_MESSAGE: &str =
    "the owner of this resource restricts access by IP address, and this address is not allowed";
/// What a client outside a token's own list is told.
pub const TOKEN_MESSAGE: &str = "this access token may not be used from this IP address";

/// Where a request comes from, as the owner's list sees it: the client's address, and
/// whether the request carries a credential (a token decided as anonymous outside its
/// binding, with the Forgejo option, still does: the client is signed in).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Client<'a> {
    pub address: Option<&'a str>,
    pub signed_in: bool,
}

impl<'a> Client<'a> {
    /// The client of a request from `address` by the principal `p`.
    pub fn of(address: Option<&'a str>, p: &Principal<'_>) -> Client<'a> {
        Client {
            address,
            signed_in: !matches!(p, Principal::Anonymous),
        }
    }
}

/// The target owner's allow list (GitHub's organisation list, GitLab's group restriction):
/// every request that carries a credential — owners and site administrators included —
/// reaches an owner's repository or the owner itself only from an address in `list`.
/// Anonymous requests are not restricted (what they reach is public anyway). Called only
/// once the target is known to exist and to be visible to the principal, so a hidden
/// target still answers exactly as a missing one. An empty list leaves no trace step.
pub(crate) fn owner_rule(
    client: Client<'_>,
    list: &[String],
    trace: &mut Trace,
) -> Result<(), Decision> {
    if list.is_empty() {
        return Ok(());
    }
    if !client.signed_in {
        trace.skip(Rule::IpAllow, || {
            "anonymous: not restricted by address".into()
        });
        return Ok(());
    }
    let address = client.address;
    check(list, address).map_err(|why| {
        Decision::new(Reason::IpNotAllowed, OWNER_MESSAGE).with_detail(why.detail(address))
    })?;
    trace.pass(Rule::IpAllow, || {
        "client address allowed by the owner".into()
    });
    Ok(())
}

/// The token's own allow list (ours; Gafaelfawr-style per-credential restriction): every
/// use of a token whose record lists blocks must come from one of them, whatever it
/// targets. Checked as soon as the token's record is resolved, before any target, so the
/// answer tells nothing about targets.
pub(crate) fn token_rule(
    p: &Principal<'_>,
    record: Option<&TokenFacts>,
    client: Option<&str>,
    trace: &mut Trace,
) -> Result<(), Decision> {
    let Some(record) = record.filter(|r| p.token().is_some() && !r.ip_allow.is_empty()) else {
        return Ok(());
    };
    check(&record.ip_allow, client).map_err(|why| {
        Decision::new(Reason::IpNotAllowed, TOKEN_MESSAGE).with_detail(why.detail(client))
    })?;
    trace.pass(Rule::IpAllow, || {
        "client address allowed by the token".into()
    });
    Ok(())
}

/// A parsed address: 128 bits, IPv4 mapped into IPv6.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Addr(u128);

/// A parsed block: a network and its prefix length (0 to 128, over the mapped space).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    network: u128,
    len: u32,
}

/// The IPv4-mapped prefix `::ffff:0:0/96`.
const MAPPED: u128 = 0xffff << 32;

/// Parse an IPv4 address's four decimal octets.
fn ipv4(text: &str) -> Option<u32> {
    let mut value: u32 = 0;
    let mut count = 0;
    for part in text.split('.') {
        let ok = !part.is_empty()
            && part.len() <= 3
            && part.bytes().all(|b| b.is_ascii_digit())
            && !(part.len() > 1 && part.starts_with('0'));
        if !ok {
            return None;
        }
        let octet: u32 = part.parse().ok()?;
        if octet > 255 {
            return None;
        }
        value = (value << 8) | octet;
        count += 1;
    }
    (count == 4).then_some(value)
}

/// Parse one side of an IPv6 address around `::`: hex groups, the last of which may be
/// an embedded IPv4 address when `v4_last` (it then counts as two groups).
fn groups(text: &str, v4_last: bool) -> Option<Vec<u16>> {
    let mut out = Vec::new();
    if text.is_empty() {
        return Some(out);
    }
    let parts: Vec<&str> = text.split(':').collect();
    for (i, part) in parts.iter().enumerate() {
        if v4_last && i + 1 == parts.len() && part.contains('.') {
            let v4 = ipv4(part)?;
            out.push((v4 >> 16) as u16);
            out.push(v4 as u16);
        } else {
            let ok = !part.is_empty() && part.len() <= 4;
            if !ok || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u16::from_str_radix(part, 16).ok()?);
        }
    }
    Some(out)
}

/// Parse an IPv6 address (with at most one `::`, and an optional embedded IPv4 tail).
fn ipv6(text: &str) -> Option<u128> {
    let (head, tail) = match text.split_once("::") {
        Some((h, t)) => {
            if t.contains("::") {
                return None;
            }
            (groups(h, false)?, Some(groups(t, true)?))
        }
        None => (groups(text, true)?, None),
    };
    let words: Vec<u16> = match tail {
        // `::` stands for at least one group of zeros.
        Some(t) if head.len() + t.len() < 8 => {
            let zeros = core::iter::repeat_n(0u16, 8 - head.len() - t.len());
            head.into_iter().chain(zeros).chain(t).collect()
        }
        Some(_) => return None,
        None => head,
    };
    if words.len() != 8 {
        return None;
    }
    Some(
        words
            .iter()
            .fold(0u128, |acc, w| (acc << 16) | u128::from(*w)),
    )
}

impl Addr {
    /// Parse an IPv4 or IPv6 address in text form; `None` when it is not one.
    pub fn parse(text: &str) -> Option<Addr> {
        if text.contains(':') {
            ipv6(text).map(Addr)
        } else {
            ipv4(text).map(|v4| Addr(MAPPED | u128::from(v4)))
        }
    }
}

impl Block {
    /// Parse a block, `address/length` or a bare address (a block of one). The length is
    /// 0 to 32 for IPv4 and 0 to 128 for IPv6, in decimal without leading zeros; host bits
    /// past the length are ignored (`192.0.2.7/24` is `192.0.2.0/24`).
    pub fn parse(text: &str) -> Option<Block> {
        let (address, length) = match text.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (text, None),
        };
        let v6 = address.contains(':');
        let Addr(network) = Addr::parse(address)?;
        let max = if v6 { 128 } else { 32 };
        let len = match length {
            None => max,
            Some(l) => {
                let ok = !l.is_empty()
                    && l.len() <= 3
                    && l.bytes().all(|b| b.is_ascii_digit())
                    && !(l.len() > 1 && l.starts_with('0'));
                let n: u32 = if ok { l.parse().ok()? } else { return None };
                if n > max {
                    return None;
                }
                n
            }
        };
        let len = if v6 { len } else { 96 + len };
        Some(Block {
            network: network & mask(len),
            len,
        })
    }

    /// Whether `addr` is inside the block.
    pub fn contains(self, addr: Addr) -> bool {
        addr.0 & mask(self.len) == self.network
    }
}

/// The mask of a prefix of `len` bits (0 to 128).
fn mask(len: u32) -> u128 {
    match len {
        0 => 0,
        n => u128::MAX << (128 - n.min(128)),
    }
}

/// Why a client address is not allowed by a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outside {
    /// The request carries no client address.
    Unknown,
    /// The client address does not parse.
    Unparsable,
    /// The address is in no block of the list (blocks that do not parse match nothing).
    NotListed,
}

impl Outside {
    /// For operators: what was wrong with the address (never the list).
    pub fn detail(self, client: Option<&str>) -> String {
        match (self, client) {
            (Outside::Unknown, _) | (_, None) => "client address unknown".into(),
            (Outside::Unparsable, Some(a)) => {
                format!("client address `{}` does not parse", a.escape_debug())
            }
            (Outside::NotListed, Some(a)) => format!("client address {a} is not in the list"),
        }
    }
}

/// Whether `client` is allowed by `list`: an empty list allows everything (no
/// restriction); a non-empty one needs a parsable address inside one of its parsable
/// blocks.
pub fn check(list: &[String], client: Option<&str>) -> Result<(), Outside> {
    if list.is_empty() {
        return Ok(());
    }
    let text = client.ok_or(Outside::Unknown)?;
    let addr = Addr::parse(text).ok_or(Outside::Unparsable)?;
    let inside = list
        .iter()
        .filter_map(|b| Block::parse(b.trim()))
        .any(|b| b.contains(addr));
    if inside {
        Ok(())
    } else {
        Err(Outside::NotListed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(blocks: &[&str]) -> Vec<String> {
        blocks.iter().map(|b| b.to_string()).collect()
    }

    #[test]
    fn addresses_parse_strictly() {
        for good in [
            "0.0.0.0",
            "192.0.2.7",
            "255.255.255.255",
            "::",
            "::1",
            "2001:db8::7",
            "2001:DB8:0:0:0:0:0:7",
            "::ffff:192.0.2.7",
            "64:ff9b::192.0.2.7",
            "1:2:3:4:5:6:7:8",
            "1::8",
            "1:2:3:4:5:6:7::",
        ] {
            assert!(Addr::parse(good).is_some(), "{good}");
        }
        for bad in [
            "",
            "192.0.2",
            "192.0.2.7.1",
            "192.0.2.256",
            "192.0.2.07",
            "192.0.2.+7",
            " 192.0.2.7",
            "192.0.2.7:22",
            "[2001:db8::7]",
            "fe80::1%eth0",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7",
            "1::2::3",
            "12345::",
            "1:2:3:4:5:6:7:8::",
            "::ffff:192.0.2",
            "g::1",
            ":1::",
        ] {
            assert_eq!(Addr::parse(bad), None, "{bad}");
        }
        assert_eq!(Addr::parse("::ffff:192.0.2.7"), Addr::parse("192.0.2.7"));
        assert_eq!(Addr::parse("1::8"), Addr::parse("1:0:0:0:0:0:0:8"));
    }

    #[test]
    fn blocks_hold_their_addresses() {
        let cases = [
            ("192.0.2.0/24", "192.0.2.255", true),
            ("192.0.2.0/24", "192.0.3.0", false),
            ("192.0.2.7/24", "192.0.2.1", true),
            ("192.0.2.7", "192.0.2.7", true),
            ("192.0.2.7", "192.0.2.8", false),
            ("0.0.0.0/0", "203.0.113.9", true),
            ("0.0.0.0/0", "2001:db8::1", false),
            ("192.0.2.0/24", "::ffff:192.0.2.9", true),
            ("::ffff:0:0/96", "198.51.100.1", true),
            ("2001:db8::/32", "2001:db8:ffff::1", true),
            ("2001:db8::/32", "2001:db9::1", false),
            ("::/0", "192.0.2.1", true),
            ("2001:db8::1/128", "2001:db8::1", true),
            ("2001:db8::1/128", "2001:db8::2", false),
            // IPv4 blocks never hold other IPv6 addresses that merely end alike.
            ("192.0.2.0/24", "::192.0.2.9", false),
        ];
        for (block, addr, inside) in cases {
            let (b, a) = (Block::parse(block), Addr::parse(addr));
            assert!(b.is_some() && a.is_some(), "{block} {addr}");
            let inside_now = b.zip(a).is_some_and(|(b, a)| b.contains(a));
            assert_eq!(inside_now, inside, "{block} {addr}");
        }
        for bad in [
            "192.0.2.0/33",
            "2001:db8::/129",
            "192.0.2.0/",
            "192.0.2.0/024",
            "192.0.2.0/-1",
            "192.0.2.0/24/1",
            "/24",
            "example.org/24",
        ] {
            assert_eq!(Block::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_list_fails_closed() {
        let office = list(&["192.0.2.0/24", "2001:db8::/32"]);
        assert_eq!(check(&[], None), Ok(()));
        assert_eq!(check(&[], Some("garbage")), Ok(()));
        assert_eq!(check(&office, Some("192.0.2.7")), Ok(()));
        assert_eq!(check(&office, Some("::ffff:192.0.2.7")), Ok(()));
        assert_eq!(check(&office, Some("2001:db8::7")), Ok(()));
        assert_eq!(check(&office, Some("203.0.113.9")), Err(Outside::NotListed));
        assert_eq!(check(&office, None), Err(Outside::Unknown));
        assert_eq!(check(&office, Some("")), Err(Outside::Unparsable));
        assert_eq!(check(&office, Some("local")), Err(Outside::Unparsable));
        // A block that does not parse matches nothing, and does not spoil the others.
        let typo = list(&["192.0.2.0/33", "not a block"]);
        assert_eq!(check(&typo, Some("192.0.2.7")), Err(Outside::NotListed));
        let mixed = list(&["192.0.2.0/33", " 198.51.100.0/24 "]);
        assert_eq!(check(&mixed, Some("198.51.100.1")), Ok(()));
    }

    #[test]
    fn details_name_the_address_never_the_list() {
        let office = list(&["192.0.2.0/24"]);
        let refused = check(&office, Some("203.0.113.9"));
        assert_eq!(refused, Err(Outside::NotListed));
        let d = Outside::NotListed.detail(Some("203.0.113.9"));
        assert!(d.contains("203.0.113.9") && !d.contains("192.0.2"), "{d}");
    }
}
