//! The shape of the house (issue 21), checked on the sources as text:
//!
//! - **No import circles.** Within each crate, the modules a module names (`crate::…`,
//!   `super::…`, `self::…`, also inside `use` groups) form a graph with no cycle: every
//!   crate is layers, each built only on the ones below it. A module naming its own
//!   ancestor (a child using what its parent module defines) is not counted.
//! - **Sizes.** No production file over 600 lines (a file's `#[cfg(test)]` module is not
//!   production) and no production function over 80 lines — except the ones in
//!   [`OVERSIZED`], each held to the size it had when this check was written, so the list
//!   can only shrink: an entry that grows fails, and an entry that no longer exceeds the
//!   limit must be removed.
// Tests: a broken expectation is a panic that says what broke.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The crates checked: each `src` directory of the workspace.
const CRATES: &[&str] = &[
    "guest/src",
    "fixture/src",
    "forge-authz/src",
    "tests/src",
    "ffi/src",
    "hosts/python/src",
];

const MAX_FILE_LINES: usize = 600;
const MAX_FN_LINES: usize = 80;

/// Known debt, each at its size when the check was written (issue 21): (path, function or
/// `""` for the whole file, lines). Shrink it; never add to it.
const OVERSIZED: &[(&str, &str, usize)] = &[];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Every `.rs` file under `dir`, sorted.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The production part of a file: up to its first `#[cfg(test)]` item at column 0.
fn production(text: &str) -> Vec<&str> {
    text.lines()
        .take_while(|l| !l.starts_with("#[cfg(test)]"))
        .collect()
}

/// The module path of a file under its crate's `src` (`serve/http.rs` → `serve::http`;
/// `lib.rs`, `main.rs` and `mod.rs` name their directory).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("lib" | "main" | "mod")
    ) {
        parts.pop();
    }
    parts
}

/// Code without `//` comments (doc links name modules too, but do not import them).
fn code_of(lines: &[&str]) -> String {
    lines
        .iter()
        .map(|l| l.split_once("//").map_or(*l, |(code, _)| code))
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every path the code names from `crate`, `super` or `self`, as segments relative to
/// the crate root; a `{a, b::c}` group is expanded one level.
fn named_paths(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let at_word = i == 0 || !is_ident(bytes[i - 1]);
        let rest: String = bytes[i..bytes.len().min(i + 7)].iter().collect();
        let head = ["crate::", "super::", "self::"]
            .into_iter()
            .find(|h| rest.starts_with(h));
        let (true, Some(head)) = (at_word, head) else {
            i += 1;
            continue;
        };
        let mut base: Vec<String> = match head {
            "crate::" => Vec::new(),
            "super::" => module[..module.len().saturating_sub(1)].to_vec(),
            _ => module.to_vec(),
        };
        let mut j = i + head.len();
        // The path: identifiers joined by `::`, possibly ending in a `{…}` group.
        let mut segs = Vec::new();
        loop {
            let start = j;
            while j < bytes.len() && is_ident(bytes[j]) {
                j += 1;
            }
            if j > start {
                segs.push(bytes[start..j].iter().collect::<String>());
            }
            if bytes[j..].starts_with(&[':', ':']) {
                j += 2;
                continue;
            }
            break;
        }
        while segs.first().is_some_and(|s| s == "super") {
            segs.remove(0);
            base.pop();
        }
        if bytes.get(j) == Some(&'{') {
            let end = bytes[j..]
                .iter()
                .position(|c| *c == '}')
                .map_or(j, |e| j + e);
            let group: String = bytes[j + 1..end].iter().collect();
            for item in group.split(',') {
                let item: Vec<String> = item
                    .trim()
                    .split("::")
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty() && s != "self" && s.chars().all(is_ident))
                    .collect();
                let mut p = base.clone();
                p.extend(segs.iter().cloned());
                p.extend(item);
                out.push(p);
            }
            j = end;
        } else {
            let mut p = base;
            p.extend(segs);
            out.push(p);
        }
        i = j.max(i + 1);
    }
    out
}

/// The module graph of one crate: module → the other modules it names (ancestors aside).
fn graph(src: &Path) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let files: Vec<(Vec<String>, String)> = sources(src)
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).unwrap();
            (module_of(src, &f), code_of(&production(&text)))
        })
        .collect();
    let modules: BTreeSet<Vec<String>> = files.iter().map(|(m, _)| m.clone()).collect();
    let mut g = BTreeMap::new();
    for (m, code) in &files {
        let mut targets = BTreeSet::new();
        for path in named_paths(code, m) {
            // The longest prefix of the path that is a module.
            let target = (1..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|p| modules.contains(p));
            if let Some(t) = target
                && t != *m
                && !m.starts_with(&t)
            {
                targets.insert(t);
            }
        }
        g.insert(m.clone(), targets);
    }
    g
}

/// A cycle of the graph, if there is one (depth-first search with colours).
fn cycle(g: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Option<Vec<String>> {
    fn visit(
        v: &Vec<String>,
        g: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<Vec<String>, u8>,
        path: &mut Vec<Vec<String>>,
    ) -> Option<Vec<String>> {
        state.insert(v.clone(), 1);
        path.push(v.clone());
        for w in g.get(v).into_iter().flatten() {
            match state.get(w).copied().unwrap_or(0) {
                1 => {
                    let from = path.iter().position(|p| p == w).unwrap();
                    let mut c: Vec<String> = path[from..].iter().map(|p| p.join("::")).collect();
                    c.push(w.join("::"));
                    return Some(c);
                }
                0 => {
                    if let Some(c) = visit(w, g, state, path) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        path.pop();
        state.insert(v.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for v in g.keys() {
        if state.get(v).copied().unwrap_or(0) == 0
            && let Some(c) = visit(v, g, &mut state, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

#[test]
fn issue21_no_crate_has_an_import_circle() {
    for krate in CRATES {
        let g = graph(&workspace().join(krate));
        assert!(
            g.len() > 1 || *krate != "guest/src",
            "{krate}: no modules read"
        );
        if let Some(c) = cycle(&g) {
            panic!(
                "{krate}: modules import each other in a circle: {}\nMove what both need into a module below them.",
                c.join(" → ")
            );
        }
    }
}

#[test]
fn issue21_the_checker_sees_a_circle_when_there_is_one() {
    // The reader itself, on a made-up crate: `a` names `b` (in a `use` group) and `b`
    // names `a` through `super`.
    let m = |s: &str| s.split("::").map(String::from).collect::<Vec<_>>();
    let a = named_paths("use crate::{b::Thing, c};", &m("a"));
    assert_eq!(a, vec![m("b::Thing"), m("c")]);
    let b = named_paths(&code_of(&["let x = super::a::f(); // crate::z"]), &m("b"));
    assert_eq!(b, vec![m("a::f")]);
    let mut g = BTreeMap::new();
    g.insert(m("a"), BTreeSet::from([m("b")]));
    g.insert(m("b"), BTreeSet::from([m("a")]));
    assert!(cycle(&g).is_some());
    g.insert(m("b"), BTreeSet::new());
    assert!(cycle(&g).is_none());
}

/// Every production function of a file with its length in lines (rustfmt layout: a
/// function ends at the first `}` at its own indentation).
fn functions(lines: &[&str]) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let after = trimmed
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("pub(super) ")
            .trim_start_matches("pub ")
            .trim_start_matches("async ")
            .trim_start_matches("const ")
            .trim_start_matches("unsafe ")
            .trim_start_matches("extern \"C\" ");
        let Some(sig) = after.strip_prefix("fn ") else {
            i += 1;
            continue;
        };
        let name: String = sig.chars().take_while(|c| is_ident(*c)).collect();
        // The signature ends at the first line ending in `{` (a body) or `;` (a trait's
        // declaration, no body); a one-line body ends in `}`.
        let sig_end = (i..lines.len()).find(|&j| {
            let t = lines[j].trim_end();
            t.ends_with('{') || t.ends_with(';') || t.ends_with('}')
        });
        let Some(sig_end) = sig_end else { break };
        let t = lines[sig_end].trim_end();
        if t.ends_with(';') || t.ends_with('}') {
            i = sig_end + 1;
            continue;
        }
        let close = format!("{indent}}}");
        let end = (i..lines.len())
            .find(|&j| lines[j] == close)
            .unwrap_or(lines.len() - 1);
        out.push((name, end - i + 1));
        i = end + 1;
    }
    out
}

#[test]
fn issue21_no_file_or_function_outgrows_its_limit() {
    let mut over = BTreeMap::new();
    for krate in CRATES {
        for f in sources(&workspace().join(krate)) {
            let rel = f
                .strip_prefix(workspace())
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&f).unwrap();
            let lines = production(&text);
            if lines.len() > MAX_FILE_LINES {
                over.insert((rel.clone(), String::new()), lines.len());
            }
            for (name, n) in functions(&lines) {
                if n > MAX_FN_LINES {
                    let e = over.entry((rel.clone(), name)).or_insert(0);
                    *e = (*e).max(n);
                }
            }
        }
    }
    let mut problems = Vec::new();
    for ((file, item), n) in &over {
        let what = if item.is_empty() {
            format!("{file} ({n} production lines, limit {MAX_FILE_LINES})")
        } else {
            format!("{file}: fn {item} ({n} lines, limit {MAX_FN_LINES})")
        };
        match OVERSIZED.iter().find(|(f, i, _)| f == file && i == item) {
            None => problems.push(format!("new: {what}")),
            Some((_, _, was)) if n > was => problems.push(format!("grew from {was}: {what}")),
            Some(_) => {}
        }
    }
    for (file, item, _) in OVERSIZED {
        if !over.contains_key(&(file.to_string(), item.to_string())) {
            problems.push(format!(
                "within its limit now: remove ({file:?}, {item:?}) from OVERSIZED"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
