//! `ssebench`: a load tool for any SSE server on this machine, and the readers of what it measures.
//!
//! - `ssebench [options]`: the load run ([`load`]): N subscriptions, R messages a second for S seconds, and a
//!   JSON report of deliveries, loss, latency, CPU and the server's memory (`--idle`: memory per connection).
//! - `ssebench soak [options]`: Hearth's soak ([`soak`]): hostile and heavy clients at once for a bounded time
//!   while one normal, logged-in client checks it loses nothing; exits non-zero past the stated bounds.
//! - `ssebench report DIR [scenario ...]`: the side-by-side tables ([`report`]) of the load runs that
//!   `scripts/compare.sh` saved in DIR, so the JSON this tool writes is read back by the same crate.
//!
//! A workspace member of its own, not a binary of the server, so that building it builds neither the server's
//! web stack nor its store: it shares only the SSE wire format (the `sse` crate) with the server. Its HTTP is
//! its own few hundred lines ([`http1`], [`conn`]), shared by every command. BENCHMARKS.md and RELIABILITY.md
//! give the method and the figures.

mod bounded;
mod conn;
mod extract;
mod histogram;
mod http1;
mod load;
mod mqtt;
mod procfs;
mod publisher;
mod report;
mod soak;
mod subscriber;
mod target;

use clap::Parser as _;
use std::process::ExitCode;

#[derive(Debug, clap::Parser)]
#[command(
    name = "ssebench",
    about = "Load-test an SSE server on this machine: fan-out latency and loss, or memory per idle connection",
    after_help = "Example (Hearth): ssebench --subscribers 10000 --rate 10 --duration 30 \
                  --publish-header 'Authorization: Bearer $HEARTH_TOKEN' --server-pid $(pgrep -n server)",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Without a command: the load run.
    #[command(flatten)]
    load: load::Args,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Hearth's soak: hostile and heavy clients at once while a normal client checks it loses nothing.
    Soak(soak::Args),
    /// Markdown tables of the load runs saved by scripts/compare.sh, with Hearth's ratio to each server.
    Report(report::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => load::main(cli.load),
        Some(Command::Soak(args)) => soak::main(args),
        Some(Command::Report(args)) => report::main(args),
    }
}
