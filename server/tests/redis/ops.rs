//! What operators and dashboards see across instances: health and metrics show the broker; a session made on
//! one instance is valid on all, and ending it on one ends it everywhere — and a logout the broker could not
//! record is refused, never answered as done.

use crate::harness::{eventually, plain, Redis, TestApp, TOKEN};
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

/// Logs in on `instance`; the session cookie (`name=value`).
async fn log_in(instance: &TestApp) -> String {
    let login = instance
        .client
        .post(instance.url("/api/session"))
        .json(&serde_json::json!({ "token": TOKEN }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// `DELETE /api/session` with `cookie`; the status.
async fn log_out(instance: &TestApp, cookie: &str) -> u16 {
    instance
        .client
        .delete(instance.url("/api/session"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
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
    let cookie = log_in(&a).await;

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
    assert_eq!(log_out(&b, &cookie).await, 204);

    // Assert: refused on B at once, and on A once its cached copy is checked again (within 5 s).
    assert_eq!(write_with_cookie(&b, &cookie).await, 401);
    tokio::time::sleep(Duration::from_millis(5200)).await;
    assert_eq!(
        write_with_cookie(&a, &cookie).await,
        401,
        "the logout reached A"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_the_broker_cannot_record_is_refused_and_one_answered_204_never_works_again() {
    // Arrange: a session made on A, known to B; then the broker goes away.
    let mut redis = Redis::start().await;
    let a = plain(&redis).await;
    let b = plain(&redis).await;
    let cookie = log_in(&a).await;
    assert_eq!(write_with_cookie(&b, &cookie).await, 201);
    redis.kill();

    // Act: log out on A while the broker is away.
    let during = log_out(&a, &cookie).await;

    // Assert: refused, since the session could not be ended where every instance looks it up.
    assert_eq!(
        during, 503,
        "a logout that could not be recorded is not a 204"
    );

    // Act: the broker comes back; the logout is tried again and now taken.
    redis.restart().await;
    eventually("A takes the logout once the broker is back", || async {
        log_out(&a, &cookie).await == 204
    })
    .await;

    // Assert: the cookie never works again, on either instance, once the broker was asked again.
    tokio::time::sleep(Duration::from_millis(5200)).await;
    for instance in [&a, &b] {
        assert_eq!(
            write_with_cookie(instance, &cookie).await,
            401,
            "a session that was logged out, on {}",
            instance.addr
        );
    }
}
