//! Server logs for a failing test, when asked for: `HEARTH_TEST_LOG=debug cargo test -p server --test api`.
//! Written through the test harness's capture, so a passing test stays quiet.

/// Installs the subscriber once per test binary; does nothing unless `HEARTH_TEST_LOG` is set.
pub fn init_tracing() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Ok(filter) = std::env::var("HEARTH_TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
    });
}
