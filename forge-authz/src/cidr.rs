//! IP address / CIDR block matching: history filters, the peers `serve` exempts or
//! trusts, and the IP allow lists the store accepts (as strict as the policy's own parser,
//! guest/src/policy/ip.rs: a prefix length in plain decimal, no leading zeros).

use std::net::IpAddr;

/// An address block: `192.0.2.0/24`, `2001:db8::/32`, or one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    base: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Cidr, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let base: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{s}` is not an IP address or CIDR block"))?;
        let max = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => Some(p)
                .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
                .filter(|p| *p == "0" || !p.starts_with('0'))
                .and_then(|p| p.parse::<u8>().ok())
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{s}`: bad prefix length"))?,
        };
        Ok(Cidr { base, prefix })
    }
}

fn bits(a: IpAddr) -> (u128, u8) {
    match a {
        IpAddr::V4(v) => (u128::from(u32::from(v)), 32),
        IpAddr::V6(v) => (u128::from(v), 128),
    }
}

impl Cidr {
    /// Whether `addr` (text) is inside the block; unparsable addresses never are.
    pub fn contains(&self, addr: &str) -> bool {
        addr.parse::<IpAddr>().is_ok_and(|a| self.contains_ip(a))
    }

    /// Whether `a` is inside the block.
    pub fn contains_ip(&self, a: IpAddr) -> bool {
        let (x, xw) = bits(a);
        let (b, bw) = bits(self.base);
        if xw != bw {
            return false;
        }
        let shift = u32::from(bw - self.prefix);
        let mask = if shift >= 128 { 0 } else { u128::MAX << shift };
        let mask = if bw == 32 {
            mask & u128::from(u32::MAX)
        } else {
            mask
        };
        (x & mask) == (b & mask)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn blocks() {
        let c: Cidr = "192.0.2.0/24".parse().unwrap();
        assert!(c.contains("192.0.2.77") && !c.contains("192.0.3.1") && !c.contains("::1"));
        let one: Cidr = "10.1.2.3".parse().unwrap();
        assert!(one.contains("10.1.2.3") && !one.contains("10.1.2.4"));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("203.0.113.9"));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains("2001:db8::1") && !v6.contains("2001:db9::1"));
        assert!("1.2.3.4/33".parse::<Cidr>().is_err() && "nope".parse::<Cidr>().is_err());
        for bad in [
            "10.0.0.0/08",
            "10.0.0.0/+8",
            "10.0.0.0/",
            "010.0.0.1",
            "fe80::1%eth0",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
        assert!(
            "0.0.0.0/0".parse::<Cidr>().is_ok() && "::ffff:10.0.0.0/104".parse::<Cidr>().is_ok()
        );
    }
}
