//! What operators and dashboards see across instances: health and metrics show the broker; a session made on
//! one instance is valid on all, and ending it on one ends it everywhere.

use crate::harness::{plain, Redis, TestApp, TOKEN};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_and_metrics_show_the_broker() {
    let redis = Redis::start().await;
    let a = plain(&redis).await;
    let (_, body) = a.try_post_message("hello").await;
    let id = body["seq"].as_u64().unwrap();

    let (status, health) = a.healthz().await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["store"]["backend"], "redis");
    assert_eq!(health["store"]["broker"]["connected"], true, "{health}");
    assert!(
        health["store"]["broker"]["last_id"].as_u64().unwrap() >= id,
        "{health}"
    );
    assert!(
        health["store"]["broker"]["tail_lag_ms"].is_u64(),
        "{health}"
    );

    let metrics = a
        .client
        .get(a.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("\nhearth_broker_connected 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("\nhearth_broker_tail_lag_ms "),
        "{metrics}"
    );
    let last: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("hearth_broker_last_id "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no hearth_broker_last_id in {metrics}"));
    assert!(last >= id);
}

/// POSTs a message with only the session cookie; the status.
async fn write_with_cookie(instance: &TestApp, cookie: &str) -> u16 {
    instance
        .client
        .post(instance.url("/message"))
        .header("cookie", cookie)
        .json(&serde_json::json!({ "message": "by cookie" }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_on_a_writes_on_b_and_a_logout_on_b_ends_it_on_a() {
    // Arrange: log in on A.
    let redis = Redis::start().await;
    let a = plain(&redis).await;
    let b = plain(&redis).await;
    let login = a
        .client
        .post(a.url("/api/session"))
        .json(&serde_json::json!({ "token": TOKEN }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();

    // Act + Assert: the cookie writes on B at once, and B says this browser may write.
    assert_eq!(
        write_with_cookie(&b, &cookie).await,
        201,
        "a login on A is valid on B"
    );
    let whoami: serde_json::Value = b
        .client
        .get(b.url("/api/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(whoami["writer"], true);
    assert_eq!(write_with_cookie(&b, "hearth_session=forged").await, 401);

    // Act: log out on B.
    let logout = b
        .client
        .delete(b.url("/api/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);

    // Assert: refused on B at once, and on A once its cached copy is checked again (within 5 s).
    assert_eq!(write_with_cookie(&b, &cookie).await, 401);
    tokio::time::sleep(Duration::from_millis(5200)).await;
    assert_eq!(
        write_with_cookie(&a, &cookie).await,
        401,
        "the logout reached A"
    );
}
