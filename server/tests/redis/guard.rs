//! The start-up guard: a Redis that could lose acknowledged writes or evict keys is refused, naming the setting.

use crate::harness::{config, Redis};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_could_lose_acknowledged_writes_is_refused_naming_the_setting() {
    for (extra, setting) in [
        (["--appendfsync", "everysec"], "appendfsync"),
        (["--maxmemory-policy", "allkeys-lru"], "maxmemory-policy"),
        (["--appendonly", "no"], "appendonly"),
    ] {
        // Arrange: a broker with one unsafe setting.
        let redis = Redis::start_with(&extra).await;
        let config = config(&redis.url());

        // Act
        let refused = server::startup::open_hub(&config, Arc::default()).err();

        // Assert
        let text = format!(
            "{:#}",
            refused.unwrap_or_else(|| panic!("{extra:?} must be refused"))
        );
        assert!(text.contains(setting), "the error names {setting}: {text}");
        assert!(text.contains("Fix"), "the error says how to fix it: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_safe_redis_is_accepted() {
    let redis = Redis::start().await;
    let config = config(&redis.url());
    assert!(server::startup::open_hub(&config, Arc::default()).is_ok());
}
