//! The root README's "Hosts in other languages" shows a forge's fact source in each language
//! (issue 22: at most 40 lines each). Those blocks are copies of the blocks each host's own
//! README carries, which that host's tests run as printed (`hosts/go`: `TestReadmeFactSource`,
//! `hosts/python/tests/test_readme.py`, `hosts/node/test/readme.test.js`; the C one is
//! `ffi/README.md`'s). This test keeps the copies the same text, so the README a forge
//! reads first never shows code that no test ran.
// Tests: a differing copy is a panic naming the block.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing)]

use std::path::Path;

/// The fenced blocks of `lang` in `text`, in order.
fn blocks<'a>(text: &'a str, lang: &str) -> Vec<&'a str> {
    let open = format!("```{lang}\n");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(&open) {
        let body = &rest[at + open.len()..];
        let Some(end) = body.find("```") else { break };
        out.push(&body[..end]);
        rest = &body[end..];
    }
    out
}

fn read(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_readme_shows_each_hosts_tested_fact_source_in_at_most_40_lines() {
    let readme = read("README.md");
    let start = readme
        .find("### The callback path")
        .expect("the callback-path section");
    let end = readme[start..]
        .find("### The simple path")
        .map(|e| start + e)
        .expect("the section ends at the simple path");
    let section = &readme[start..end];
    // (language, the host README holding the tested block, a text only that block has)
    let hosts = [
        ("c", "ffi/README.md", "fa_decide_with("),
        ("go", "hosts/go/README.md", "func (f forge) Token("),
        ("python", "hosts/python/README.md", "class ForgeFacts"),
        ("js", "hosts/node/README.md", "boundaryFacts({"),
    ];
    for (lang, host, marker) in hosts {
        let shown: Vec<&str> = blocks(section, lang)
            .into_iter()
            .filter(|b| b.contains(marker))
            .collect();
        assert_eq!(shown.len(), 1, "README shows one {lang} fact source");
        let lines = shown[0].lines().count();
        assert!(lines <= 40, "README's {lang} fact source is {lines} lines");
        let host_text = read(host);
        assert!(
            blocks(&host_text, lang).contains(&shown[0]),
            "README's {lang} fact source differs from {host}'s (copy it from there)"
        );
    }
}
