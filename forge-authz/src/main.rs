//! `forge-authz`: parses arguments and prints; the work is in `forge_authz_host::cli`.

use std::process::ExitCode;

use clap::Parser as _;
use forge_authz_host::cli::{Cli, exit_code, run};

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("forge-authz: {e:#}");
            ExitCode::from(exit_code(&e))
        }
    }
}
