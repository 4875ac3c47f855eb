//! Running a command within a deadline: a tokio runtime of the asked size, a timeout around the whole run, and a
//! watchdog thread that ends the process should the runtime itself hang past it. The load run and the soak both
//! promise to end by themselves, whatever the server under test does.

use std::future::Future;
use std::time::Duration;

/// How long past its deadline the process may live before the watchdog thread ends it.
const WATCHDOG_GRACE: Duration = Duration::from_secs(15);

/// Runs `run` on a runtime of `threads` workers (0: one thread, a current-thread runtime) and gives up with an
/// error once `deadline` has passed. Tasks still running then are dropped with the runtime, closing their sockets.
pub fn run<T>(
    threads: usize,
    deadline: Duration,
    run: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    // The last resort if the runtime itself is stuck: the process never outlives its deadline by much.
    std::thread::spawn(move || {
        std::thread::sleep(deadline + WATCHDOG_GRACE);
        eprintln!("ssebench: still running {WATCHDOG_GRACE:?} past the deadline; exiting");
        std::process::exit(3);
    });
    let runtime = if threads == 0 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    };
    let runtime = runtime.map_err(|e| anyhow::anyhow!("cannot start the runtime: {e}"))?;
    let result = runtime.block_on(async {
        tokio::time::timeout(deadline, run)
            .await
            .unwrap_or_else(|_| {
                Err(anyhow::anyhow!(
                    "the global deadline of {deadline:?} passed before the run ended"
                ))
            })
    });
    runtime.shutdown_timeout(Duration::from_secs(2));
    result
}
