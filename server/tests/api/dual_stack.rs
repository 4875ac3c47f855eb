//! A dual-stack listener (`--addr [::]:3000`) sees every IPv4 client as `::ffff:a.b.c.d`, and each is still a
//! client of its own for the per-client limits. The listener here is `[::ffff:127.0.0.1]`: an IPv6 socket that
//! receives IPv4 clients exactly as `[::]` does, but only from this machine; the clients connect from two
//! loopback addresses, 127.0.0.1 and 127.0.0.2.

use crate::helpers::{Flags, Launch, SseStream, TestApp, TOKEN, WAIT};
use std::net::{IpAddr, Ipv4Addr};

const FIRST: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
const SECOND: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

async fn dual_stack_app(configure: impl FnOnce(&mut Flags)) -> TestApp {
    let app = Launch::new()
        .listen("[::ffff:127.0.0.1]:0".parse().unwrap())
        .flags(configure)
        .spawn()
        .await;
    assert!(app.addr.is_ipv6(), "an IPv6 listener: {}", app.addr);
    app
}

/// A client whose connections come from `source`.
fn client_from(source: Ipv4Addr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(source))
        .timeout(WAIT)
        .build()
        .unwrap()
}

/// Where an IPv4 client dials the app.
fn ipv4_url(app: &TestApp, path: &str) -> String {
    format!("http://127.0.0.1:{}{path}", app.addr.port())
}

#[tokio::test]
async fn each_ipv4_client_of_a_dual_stack_listener_gets_its_own_stream_share() {
    // Arrange: one anonymous stream per client; the first client holds its one.
    let app = dual_stack_app(|f| {
        f.set("--max-streams-per-client", 1);
    })
    .await;
    let url = ipv4_url(&app, "/eventstream");
    let _held = SseStream::open(&client_from(FIRST), &url, None).await;

    // Act
    let other = client_from(SECOND).get(&url).send().await.unwrap();
    let same = client_from(FIRST).get(&url).send().await.unwrap();

    // Assert
    assert_eq!(other.status(), 200, "another IPv4 client has its own share");
    assert_eq!(same.status(), 503, "the first client's share is taken");
}

#[tokio::test]
async fn one_ipv4_clients_wrong_tokens_lock_out_that_client_only() {
    // Arrange: three failures a minute.
    let app = dual_stack_app(|f| {
        f.set("--auth-failures-per-minute", 3);
    })
    .await;
    let login = |source: Ipv4Addr, token: &'static str| {
        let url = ipv4_url(&app, "/api/session");
        async move {
            client_from(source)
                .post(url)
                .json(&serde_json::json!({ "token": token }))
                .send()
                .await
                .unwrap()
                .status()
        }
    };

    // Act: the first client guesses until it is locked out; then the owner logs in from the second.
    for _ in 0..3 {
        assert_eq!(login(FIRST, "wrong-wrong-wrong").await, 401);
    }
    let guesser = login(FIRST, TOKEN).await;
    let owner = login(SECOND, TOKEN).await;

    // Assert
    assert_eq!(guesser, 429, "the guessing client waits out its window");
    assert_eq!(owner, 200, "another IPv4 client is not locked out");
}
