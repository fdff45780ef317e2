//! The exit status of every command: one table (README "Exit status", `forge-authz man`
//! EXIT STATUS, tested by `forge-authz/tests/conventions.rs`), and the error that carries
//! its code. Below every other module (the store, the lifecycle and the server raise
//! these; `cli` re-exports them and `main` maps them), so none imports `cli` for it.

/// Success; for `decide`, an allow.
pub const EXIT_OK: u8 = 0;
/// A deny: `decide`, `git-shell`, `module verify` (the request or module was refused).
pub const EXIT_DENY: u8 = 1;
/// A usage or input error: a bad flag or argument (clap's own code), an unreadable or
/// malformed input file, a store or server error.
pub const EXIT_ERROR: u8 = 2;
/// `check`: the candidate passes but changes decisions (differences only).
pub const EXIT_DIFFERENCES: u8 = 3;
/// The policy refused an operation on the store (a token, key, option or membership
/// change that the actor may not make), or the change is refused by a rule that holds
/// after every change (e.g. removing a user who still owns repositories).
pub const EXIT_REFUSED: u8 = 4;
/// What the command names does not exist (a token id, user, repository, key).
pub const EXIT_NOT_FOUND: u8 = 5;
/// No store there, or one this build cannot use (not initialised, a newer schema), or no
/// server on the admin socket: nothing was read or changed.
pub const EXIT_UNAVAILABLE: u8 = 6;

/// An error that ends the command with its own exit status (see the table above);
/// `main` prints it like any error. Any other error exits [`EXIT_ERROR`].
#[derive(Debug)]
pub struct Failure {
    /// The exit status.
    pub code: u8,
    /// What the user reads (`forge-authz: ...` on stderr).
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// An error that exits with `code`: `return Err(fail(EXIT_NOT_FOUND, format!(...)))`.
pub fn fail(code: u8, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Failure {
        code,
        message: message.into(),
    })
}

/// The exit status of an error: a [`Failure`]'s code anywhere in its chain, else
/// [`EXIT_ERROR`].
pub fn exit_code(e: &anyhow::Error) -> u8 {
    // `downcast_ref` also finds a `Failure` given as context (`.context(Failure {..})`),
    // which `chain` shows only as its context wrapper.
    e.downcast_ref::<Failure>()
        .map(|f| f.code)
        .or_else(|| {
            e.chain()
                .find_map(|c| c.downcast_ref::<Failure>().map(|f| f.code))
        })
        .unwrap_or(EXIT_ERROR)
}
