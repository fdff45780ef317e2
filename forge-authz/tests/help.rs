//! `forge-authz --help` lists its commands by task for operators (issue 25, "The operator's
//! first hour"): first steps, tokens, serving, the store's records, fleets and modules,
//! tools — in that order, and says so. A new command not placed in a group fails here.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

#[path = "support/cli.rs"]
mod cli;

/// The commands by task, in the order `--help` lists them.
const GROUPS: &[(&str, &[&str])] = &[
    (
        "first steps (demo to inspect)",
        &["demo", "init", "decide", "init-db", "inspect"],
    ),
    (
        "tokens (token to scopes)",
        &["token", "mint", "expire", "scopes"],
    ),
    (
        "serving (serve to git-shell)",
        &["serve", "status", "reload", "ssh-keys", "git-shell"],
    ),
    (
        "the store's records (user to export)",
        &[
            "user",
            "org",
            "member",
            "repo",
            "collaborator",
            "key",
            "protect",
            "site",
            "history",
            "audit",
            "bulk-import",
            "import",
            "export",
        ],
    ),
    (
        "fleets and modules (publish to promote)",
        &[
            "publish", "fleet", "keys", "options", "module", "signers", "check", "shadow",
            "promote",
        ],
    ),
    (
        "tools (completions to install-completions)",
        &["completions", "man", "install-completions"],
    ),
];

#[test]
fn help_lists_the_commands_by_task_and_names_the_groups() {
    let out = cli::run(&["--help"], None);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let listed: Vec<&str> = help
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .collect();
    let expected: Vec<&str> = GROUPS
        .iter()
        .flat_map(|(_, names)| names.iter().copied())
        .collect();
    assert_eq!(listed, expected, "{help}");
    // The help says how the list is ordered, naming each group by its first and last
    // command.
    let said = help.split_whitespace().collect::<Vec<_>>().join(" ");
    for (group, _) in GROUPS {
        assert!(said.contains(group), "`{group}` not named in:\n{help}");
    }
}
