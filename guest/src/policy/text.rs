//! Byte-level text helpers for the policy's parsers (scope lists, names, paths, token
//! strings). The lowest floor: it imports nothing from the policy.

/// Split `s` at the first `sep` (an ASCII byte: never part of a multi-byte character). A
/// plain loop: `str::split_once(char)` goes through the general pattern searcher, which
/// costs more than these short strings (names, paths, scope lists) are long.
pub fn split_at_byte(s: &str, sep: u8) -> Option<(&str, &str)> {
    let i = s.bytes().position(|b| b == sep)?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}
