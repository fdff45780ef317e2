//! The client address a request is decided with (issue 23: IP allow lists). `serve` takes
//! it from the TCP peer; from the proxy's header (`X-Forwarded-For` unless configured
//! otherwise) **only** when the peer is a trusted proxy (`--trusted-proxy`), so a client
//! that connects directly cannot name another address.
//!
//! Behind trusted proxies the header is read from the right, as MDN's "rightmost
//! untrusted" rule and nginx's `real_ip_recursive on` do: each proxy appends the address
//! it saw, so the rightmost entries were written by our own proxies and everything left
//! of the first address that is not a trusted proxy is the client's own text, which it
//! can forge. The first untrusted address from the right is the client. Failing closed:
//! a trusted proxy that sends no header, an empty or malformed entry (not one bare IPv4 or
//! IPv6 address: no port, no brackets, no `unknown`), or a header that is not text gives
//! **no address**, which the policy refuses wherever an allow list applies. IPv4-mapped
//! IPv6 addresses are read as IPv4.

use std::net::IpAddr;

use hyper::HeaderMap;
use hyper::header::HeaderName;

use crate::cidr::Cidr;

/// Where the client address comes from: `serve --trusted-proxy CIDR...
/// [--client-address-header NAME]`.
#[derive(Clone, Debug, clap::Args)]
pub struct ClientAddress {
    /// Reverse proxies (an address or CIDR block; repeatable) whose client-address
    /// header is believed. From any other peer the header is ignored and the peer's own
    /// address is the client's. A trusted proxy connects for all its clients, so it is
    /// also held only to --max-connections, as --connection-limit-exempt peers are.
    #[arg(long = "trusted-proxy", value_name = "CIDR")]
    pub trusted_proxies: Vec<Cidr>,
    /// The header a trusted proxy writes the client's address in: a comma-separated
    /// list, each proxy appending the address it saw (`X-Forwarded-For`; `X-Real-IP`
    /// holds one address and is read the same way).
    #[arg(
        long = "client-address-header",
        value_name = "NAME",
        default_value = "x-forwarded-for"
    )]
    pub header: HeaderName,
}

impl Default for ClientAddress {
    fn default() -> ClientAddress {
        ClientAddress {
            trusted_proxies: Vec::new(),
            header: HeaderName::from_static("x-forwarded-for"),
        }
    }
}

/// IPv4-mapped IPv6 (`::ffff:192.0.2.1`, what a dual-stack listener reports) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

impl ClientAddress {
    /// Whether `ip` is a trusted proxy.
    fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|c| c.contains_ip(ip))
    }

    /// The client address of a request from `peer` with `headers` (see the module's
    /// text); `None`: no address the request can be trusted with.
    pub fn of(&self, headers: &HeaderMap, peer: IpAddr) -> Option<String> {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return Some(peer.to_string());
        }
        let mut hops = Vec::new();
        for value in headers.get_all(&self.header) {
            for entry in value.to_str().ok()?.split(',') {
                hops.push(canonical(entry.trim().parse::<IpAddr>().ok()?));
            }
        }
        // Every hop trusted: the client is the leftmost (itself inside a proxy's block).
        let client = hops
            .iter()
            .rev()
            .find(|ip| !self.trusts(**ip))
            .or(hops.first())?;
        Some(client.to_string())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(name: &str, values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn trusting(blocks: &[&str]) -> ClientAddress {
        ClientAddress {
            trusted_proxies: blocks.iter().map(|b| b.parse().unwrap()).collect(),
            ..ClientAddress::default()
        }
    }

    #[test]
    fn the_header_is_read_only_from_a_trusted_proxy() {
        let peer: IpAddr = "203.0.113.7".parse().unwrap();
        let forged = headers("x-forwarded-for", &["10.1.2.3"]);
        assert_eq!(
            ClientAddress::default().of(&forged, peer).as_deref(),
            Some("203.0.113.7")
        );
        assert_eq!(
            trusting(&["127.0.0.1"]).of(&forged, peer).as_deref(),
            Some("203.0.113.7")
        );
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(
            trusting(&["127.0.0.0/8"]).of(&forged, mapped).as_deref(),
            Some("10.1.2.3")
        );
    }

    #[test]
    fn rightmost_untrusted_hop() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let t = trusting(&["10.0.0.0/24"]);
        // The client wrote `1.1.1.1`; our proxies appended 198.51.100.9 and 10.0.0.1.
        let h = headers("x-forwarded-for", &["1.1.1.1, 198.51.100.9", "10.0.0.1"]);
        assert_eq!(t.of(&h, proxy).as_deref(), Some("198.51.100.9"));
        let inside = headers("x-forwarded-for", &["10.0.0.5, 10.0.0.1"]);
        assert_eq!(t.of(&inside, proxy).as_deref(), Some("10.0.0.5"));
        let v6 = headers("x-forwarded-for", &["2001:db8::1"]);
        assert_eq!(t.of(&v6, proxy).as_deref(), Some("2001:db8::1"));
    }

    #[test]
    fn malformed_or_missing_fails_closed() {
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        let t = trusting(&["127.0.0.1"]);
        for bad in [
            "",
            "1.2.3.4,",
            "unknown",
            "1.2.3.4:80",
            "[2001:db8::1]",
            "1.2.3.4 5.6.7.8",
            "203.0.113.1, nonsense",
        ] {
            assert_eq!(
                t.of(&headers("x-forwarded-for", &[bad]), proxy),
                None,
                "{bad}"
            );
        }
        assert_eq!(t.of(&HeaderMap::new(), proxy), None);
        let real = ClientAddress {
            header: HeaderName::from_static("x-real-ip"),
            ..t
        };
        let h = headers("x-real-ip", &["192.0.2.4"]);
        assert_eq!(real.of(&h, proxy).as_deref(), Some("192.0.2.4"));
    }
}
