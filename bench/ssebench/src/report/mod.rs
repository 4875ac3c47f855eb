//! `ssebench report`: Markdown tables of saved load runs, so the JSON this tool writes is read back by the same
//! crate and a renamed field breaks a test here rather than a table.
//!
//! - `ssebench report DIR [scenario ...]`: the side-by-side comparison of `scripts/compare.sh` ([`compare`]):
//!   per scenario, one row per server and Hearth's ratio to each other server;
//! - `ssebench report --medians DIR`: the medians of `scripts/bench.sh` ([`medians`]): one row per scenario.
//!
//! [`runs`] reads the files both scripts save; [`words`] prints figures the way the tables always have.

mod compare;
mod medians;
mod runs;
mod words;

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The directory the script wrote (its `*.json` runs, and for a comparison `machine.txt`).
    pub dir: PathBuf,
    /// The scenarios of a comparison to print, in this order (scenarios without runs are left out).
    pub scenarios: Vec<String>,
    /// Print scripts/bench.sh's table of medians (one row per scenario label) instead of a comparison.
    #[arg(long, conflicts_with = "scenarios")]
    pub medians: bool,
}

pub fn main(args: Args) -> ExitCode {
    let tables = if args.medians {
        medians::render(&args.dir)
    } else {
        compare::render(&args.dir, &args.scenarios)
    };
    match tables {
        Ok(tables) => {
            print!("{tables}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ssebench report: {}: {e}", args.dir.display());
            ExitCode::from(1)
        }
    }
}
