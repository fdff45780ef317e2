//! Regenerates the hand-made seed corpora of `token_parse` and `token_mutate`:
//!
//! ```sh
//! cd fuzz && cargo run --example seeds
//! ```
//!
//! (The `decide` seeds are fuzzer-found inputs, picked with `decide_stats --pick`; see
//! ../FUZZING-NOTES.md.) Files are named after what they hold; existing files with the
//! same name are overwritten, others are left alone.

use std::fs;
use std::path::Path;

use forge_authz_fuzz::{edited, fix_crc, genuine_tokens};

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    fs::create_dir_all(dir).expect("create corpus directory");
    fs::write(dir.join(name), bytes).expect("write seed");
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let tokens = genuine_tokens();
    let k1 = &tokens[0].secret; // fzpat_k1.… (110 characters)
    let len = k1.len();

    // token_parse: genuine tokens (k1 verifies; k2 is not configured there: unknown-key),
    // and one damaged token per error, in the README's order.
    let parse = root.join("token_parse");
    for (i, g) in tokens.iter().enumerate() {
        write(
            &parse,
            &format!("genuine-{i}-{}", g.record.owner),
            g.secret.as_bytes(),
        );
    }
    write(&parse, "empty", b"");
    write(
        &parse,
        "wrong-prefix",
        format!("ghp_{}", &k1[6..]).as_bytes(),
    );
    write(&parse, "wrong-length", &k1.as_bytes()[..len - 1]);
    write(
        &parse,
        "bad-separator",
        fix_crc(&k1.replacen('.', "_", 1)).as_bytes(),
    );
    write(
        &parse,
        "bad-key-id",
        fix_crc(&k1.replacen("k1", "K1", 1)).as_bytes(),
    );
    // Non-zero trailing bits in the tag's last character (43 characters carry 32 bytes:
    // the last one's two low bits must be zero; one token has one spelling).
    let mut b = k1.clone().into_bytes();
    let last_tag = len - 10;
    b[last_tag] = if b[last_tag] == b'B' { b'C' } else { b'B' };
    write(
        &parse,
        "bad-encoding",
        fix_crc(&String::from_utf8(b).expect("ascii")).as_bytes(),
    );
    write(
        &parse,
        "bad-checksum",
        edited(k1, &[[1, 20, 7]], false).as_bytes(),
    );
    write(
        &parse,
        "unknown-key",
        fix_crc(&k1.replacen("k1", "k9", 1)).as_bytes(),
    );
    write(
        &parse,
        "bad-signature",
        edited(k1, &[[1, 20, 7]], true).as_bytes(),
    );
    let upper = format!("{}{}", &k1[..len - 8], k1[len - 8..].to_ascii_uppercase());
    write(&parse, "uppercase-crc", upper.as_bytes());
    write(
        &parse,
        "long-key-id",
        fix_crc(&k1.replacen("k1", "k123456789abcdef", 1)).as_bytes(),
    );

    // token_mutate: header byte (token, fix-crc, slot, legacy record) then (op, position, value) triples.
    let mutate = root.join("token_mutate");
    let seeds: &[(&str, &[u8])] = &[
        ("unchanged-bearer", &[0x00]),
        ("unchanged-basic-username", &[0x13]),
        ("alphabet-replace-fixcrc", &[0x04, 1, 20, 7]),
        ("kid-k1-to-k2-fixcrc", &[0x04, 0, 7, b'2']),
        ("tag-trailing-bits-fixcrc", &[0x04, 2, 100, 1]),
        ("case-change-fixcrc-password", &[0x0c, 7, 30, 0]),
        ("truncate", &[0x01, 5, 60, 0]),
        ("delete-insert-fixcrc", &[0x06, 4, 40, 0, 3, 40, 9]),
        ("swap-username-xoauth", &[0x1a, 6, 50, 3]),
        ("no-op-swap", &[0x00, 6, 10, 0]),
        ("unchanged-legacy-record", &[0x20]),
        ("alphabet-replace-fixcrc-legacy-record", &[0x24, 1, 20, 7]),
    ];
    for (name, bytes) in seeds {
        write(&mutate, name, bytes);
    }
    println!("seeds written under {}", root.display());
}
