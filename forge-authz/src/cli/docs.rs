//! The CLI described for shells and `man` (issue 25), generated from the clap definition
//! itself so it cannot drift: `completions SHELL` (stdout), `man [--dir DIR]`, and one
//! install command, `install-completions [--prefix DIR]`, writing bash, zsh and fish
//! completions and every man page where those tools look for a user's (or, with
//! `--prefix /usr/local`, the machine's) additions.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::CommandFactory as _;
use clap_complete::Shell;

use super::{Cli, EXIT_ERROR, fail};

/// The program name completions and pages are written for.
const NAME: &str = "forge-authz";

/// `forge-authz completions`
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// `forge-authz man`
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write one page per command here (`forge-authz.1`, `forge-authz-token.1`,
    /// `forge-authz-token-create.1`, ...); without it, print the main page.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// `forge-authz install-completions`
#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// Install under `PREFIX/share` (e.g. `/usr/local` for every user). Default: your
    /// own data directory, `$XDG_DATA_HOME` or `~/.local/share`.
    #[arg(long)]
    pub prefix: Option<PathBuf>,
}

/// The exit status table (README "Exit status"), shown in the main man page.
pub const EXIT_STATUS: [(u8, &str); 7] = [
    (
        super::EXIT_OK,
        "success; for decide and git-shell, an allow",
    ),
    (
        super::EXIT_DENY,
        "a deny: decide, git-shell; a module refused: check (fails), module verify, a \
         server refusing a reload; audit findings left unfixed",
    ),
    (
        super::EXIT_ERROR,
        "usage or input error: a bad flag or argument, an unreadable or malformed file, \
         a duplicate, any other error",
    ),
    (
        super::EXIT_DIFFERENCES,
        "check: the candidate passes but changes decisions",
    ),
    (
        super::EXIT_REFUSED,
        "refused: the policy refused a token, key or option change, or a rule that holds \
         after every change refused it (e.g. removing a user who owns repositories)",
    ),
    (
        super::EXIT_NOT_FOUND,
        "not found: the token, user, organisation, repository or key named does not exist",
    ),
    (
        super::EXIT_UNAVAILABLE,
        "unavailable: no store there (create one with init-db), one this build cannot \
         use, PostgreSQL unreachable, or no server on the admin socket",
    ),
];

/// The clap definition every generated file comes from.
fn command() -> clap::Command {
    Cli::command().about("the authorization policy of a git forge, as a WebAssembly component")
}

/// The main page: clap's, then the exit status table.
fn main_page(out: &mut Vec<u8>) -> anyhow::Result<()> {
    clap_mangen::Man::new(command()).render(out)?;
    writeln!(out, ".SH \"EXIT STATUS\"")?;
    for (code, meaning) in EXIT_STATUS {
        writeln!(out, ".TP\n\\fB{code}\\fR\n{}", meaning.replace('-', "\\-"))?;
    }
    Ok(())
}

/// `forge-authz completions SHELL`: the completion script on stdout.
pub fn completions(a: CompletionsArgs) -> anyhow::Result<u8> {
    let mut out = Vec::new();
    clap_complete::generate(a.shell, &mut command(), NAME, &mut out);
    write_stdout(&out)
}

/// `forge-authz man [--dir DIR]`.
pub fn man(a: ManArgs) -> anyhow::Result<u8> {
    match a.dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let pages = man_pages(&dir)?;
            eprintln!("wrote {pages} man pages to {}", dir.display());
            Ok(0)
        }
        None => {
            let mut out = Vec::new();
            main_page(&mut out)?;
            write_stdout(&out)
        }
    }
}

/// Every page (the main one and one per visible command) into `dir`; how many.
fn man_pages(dir: &Path) -> anyhow::Result<usize> {
    clap_mangen::generate_to(command(), dir)
        .with_context(|| format!("writing man pages to {}", dir.display()))?;
    let mut page = Vec::new();
    main_page(&mut page)?;
    let main = dir.join(format!("{NAME}.1"));
    std::fs::write(&main, page).with_context(|| format!("writing {}", main.display()))?;
    let count = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with(NAME) && name.ends_with(".1")
        })
        .count();
    Ok(count)
}

/// Where each shell's completion file goes under a data directory (`.../share`), and the
/// shell it is for.
const PLACES: [(Shell, &str); 3] = [
    (Shell::Bash, "bash-completion/completions/forge-authz"),
    (Shell::Zsh, "zsh/site-functions/_forge-authz"),
    (Shell::Fish, "fish/vendor_completions.d/forge-authz.fish"),
];

/// The data directory to install into: `PREFIX/share`, else `$XDG_DATA_HOME`, else
/// `$HOME/.local/share`.
fn data_dir(prefix: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(p) = prefix {
        return Ok(p.join("share"));
    }
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").and_then(absolute) {
        return Ok(d);
    }
    match std::env::var_os("HOME").and_then(absolute) {
        Some(home) => Ok(home.join(".local").join("share")),
        None => Err(fail(
            EXIT_ERROR,
            "HOME is not set to an absolute path: pass `--prefix DIR`",
        )),
    }
}

/// `forge-authz install-completions [--prefix DIR]`: bash, zsh and fish completions and
/// the man pages, each where its tool looks; prints what it wrote and what is left to do.
pub fn install(a: InstallArgs) -> anyhow::Result<u8> {
    let data = data_dir(a.prefix)?;
    for (shell, place) in PLACES {
        let path = data.join(place);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut command(), NAME, &mut script);
        std::fs::write(&path, script).with_context(|| format!("writing {}", path.display()))?;
        outln!("{shell:<5} {}", path.display());
    }
    let man1 = data.join("man").join("man1");
    std::fs::create_dir_all(&man1).with_context(|| format!("creating {}", man1.display()))?;
    let pages = man_pages(&man1)?;
    outln!("man   {} ({pages} pages)", man1.display());
    eprintln!(
        "bash and fish load these by themselves (bash needs the bash-completion package); \
         zsh: add `fpath+=({})` before `compinit` in ~/.zshrc; man finds the pages when \
         {} is on your PATH, else add `{}` to MANPATH",
        data.join("zsh/site-functions").display(),
        data.parent().unwrap_or(&data).join("bin").display(),
        data.join("man").display()
    );
    Ok(0)
}

/// Write bytes to stdout; a closed pipe (`| head`) is not an error.
fn write_stdout(bytes: &[u8]) -> anyhow::Result<u8> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(0),
    }
}
