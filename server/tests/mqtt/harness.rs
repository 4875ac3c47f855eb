//! The MQTT suite's harness, beside the shared kit (re-exported, so the tests import from one place): a Hearth
//! pointed at a test's own Mosquitto ([`hearth`]), a stand-in device on the same broker ([`Device`]: retained
//! configs, states, and every message it receives), and the few requests the tests repeat. Every wait is
//! bounded.

pub use crate::common::*;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A broker of the test's own that logs subscriptions, so a test can wait until Hearth follows a topic.
pub async fn broker() -> Mosquitto {
    Mosquitto::start_with(
        "log_type error\nlog_type warning\nlog_type notice\nlog_type information\nlog_type subscribe\n",
    )
    .await
}

/// Waits until `instances` Hearth clients have subscribed to `topic` on `broker` (as [`broker`] logs it). A state
/// a device publishes before then cannot reach Hearth, as it could not reach any client: a test that publishes
/// one unretained waits here first.
pub async fn follows(broker: &Mosquitto, topic: &str, instances: usize) {
    let suffix = format!(" 1 {topic}");
    eventually(&format!("Hearth to follow {topic}"), || async {
        let log = std::fs::read_to_string(broker.log_path()).unwrap_or_default();
        log.lines()
            .filter(|l| l.contains(" hearth-") && l.ends_with(&suffix))
            .count()
            >= instances
    })
    .await;
}

/// Starts Hearth on `broker` with `configure`'s flags on top, and waits until it is connected.
pub async fn hearth(broker: &Mosquitto, configure: impl FnOnce(&mut Flags)) -> TestApp {
    let app = spawn_app(|f| {
        f.set("--mqtt-url", broker.url());
        configure(f);
    })
    .await;
    connected(&app, true).await;
    app
}

/// Waits until the app says (on `/healthz`) that it does or does not reach its broker.
pub async fn connected(app: &TestApp, wanted: bool) {
    let what = format!("the bridge to say connected = {wanted}");
    eventually(&what, || async {
        let (_, body) = app.healthz().await;
        body["mqtt"]["connected"] == json!(wanted)
    })
    .await;
}

/// A device on the broker, as firmware is one: it publishes retained configs and states, and hears what it
/// subscribed to.
pub struct Device {
    client: AsyncClient,
    heard: mpsc::UnboundedReceiver<(String, String)>,
    subscribed: mpsc::UnboundedReceiver<()>,
    task: JoinHandle<()>,
}

impl Drop for Device {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Device {
    /// Connects to `broker` and waits until the broker took it.
    pub async fn connect(broker: &Mosquitto) -> Device {
        let id = format!("test-device-{:08x}", rand::random::<u32>());
        let mut options = MqttOptions::new(id, "127.0.0.1", broker.port);
        options
            .set_keep_alive(Duration::from_secs(5))
            .set_max_packet_size(1 << 22, 1 << 22);
        let (client, mut eventloop) = AsyncClient::new(options, 20_000);
        let (heard_tx, heard) = mpsc::unbounded_channel();
        let (sub_tx, subscribed) = mpsc::unbounded_channel();
        let (up_tx, mut up) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = up_tx.send(());
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let text = String::from_utf8_lossy(&p.payload).into_owned();
                        let _ = heard_tx.send((p.topic, text));
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = sub_tx.send(());
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        tokio::time::timeout(WAIT, up.recv())
            .await
            .expect("the test device connects to the broker");
        Device {
            client,
            heard,
            subscribed,
            task,
        }
    }

    /// Subscribes to `filter` and waits until the broker confirmed it.
    pub async fn subscribe(&mut self, filter: &str) {
        self.client
            .subscribe(filter, QoS::AtLeastOnce)
            .await
            .expect("the device subscribes");
        tokio::time::timeout(WAIT, self.subscribed.recv())
            .await
            .expect("the broker confirms the subscription");
    }

    /// Publishes retained, as a device announces its config (an empty payload withdraws it).
    pub async fn retain(&self, topic: &str, payload: impl Into<Vec<u8>>) {
        self.client
            .publish(topic, QoS::AtLeastOnce, true, payload)
            .await
            .expect("the device publishes");
    }

    /// Announces `config` (JSON) on `topic`.
    pub async fn announce(&self, topic: &str, config: &Value) {
        self.retain(topic, config.to_string()).await;
    }

    /// Publishes a state, not retained.
    pub async fn say(&self, topic: &str, payload: &str) {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload.as_bytes().to_vec())
            .await
            .expect("the device publishes");
    }

    /// The next message it hears on `topic`; fails after [`WAIT`].
    pub async fn hears(&mut self, topic: &str) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let next = tokio::time::timeout_at(deadline, self.heard.recv()).await;
            match next {
                Ok(Some((t, payload))) if t == topic => return payload,
                Ok(Some(_)) => continue,
                _ => panic!("the device heard nothing on {topic} within {WAIT:?}"),
            }
        }
    }

    /// Everything it hears on `topic` for `window`.
    pub async fn hears_for(&mut self, topic: &str, window: Duration) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + window;
        let mut out = Vec::new();
        while let Ok(Some((t, payload))) =
            tokio::time::timeout_at(deadline, self.heard.recv()).await
        {
            if t == topic {
                out.push(payload);
            }
        }
        out
    }
}

/// The entity `id` as `/api/entities` lists it.
pub async fn entity(app: &TestApp, id: &str) -> Option<Value> {
    let list: Value = app.get("/api/entities").await.json().await.expect("a list");
    list["entities"]
        .as_array()
        .expect("entities")
        .iter()
        .find(|e| e["id"] == id)
        .cloned()
}

/// Every entity `/api/entities` lists.
pub async fn entities(app: &TestApp) -> Vec<Value> {
    let list: Value = app.get("/api/entities").await.json().await.expect("a list");
    list["entities"].as_array().expect("entities").clone()
}

/// Waits until entity `id` satisfies `wanted`, returning it.
pub async fn entity_when(
    app: &TestApp,
    id: &str,
    what: &str,
    wanted: impl Fn(&Value) -> bool,
) -> Value {
    let found = std::sync::Mutex::new(None);
    eventually(&format!("{id}: {what}"), || async {
        let now = entity(app, id).await;
        let ok = now.as_ref().is_some_and(&wanted);
        *found.lock().unwrap() = now;
        ok
    })
    .await;
    found.into_inner().unwrap().expect("the entity")
}

/// `POST /api/entities/{id}` with `{"state"}`: the status and JSON body.
pub async fn command(app: &TestApp, id: &str, state: &str) -> (u16, Value) {
    post(
        &app.client,
        &app.url(&format!("/api/entities/{id}")),
        &json!({ "state": state }),
    )
    .await
}

/// `PATCH /api/entities/{id}`.
pub async fn edit(app: &TestApp, id: &str, body: Value) -> (u16, Value) {
    let response = app
        .client
        .patch(app.url(&format!("/api/entities/{id}")))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .expect("PATCH reaches the server");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The home's stream, from now: its snapshot read.
pub async fn entity_stream(app: &TestApp) -> SseStream {
    let mut stream = app.sse("/events?topics=entities").await;
    let first = stream.next_event().await;
    assert_eq!(
        first.event, "snapshot",
        "a fresh stream starts with the state"
    );
    stream
}

/// Reads `stream` until an `entity` event for `id` satisfies `wanted`.
pub async fn entity_event(
    stream: &mut SseStream,
    id: &str,
    wanted: impl Fn(&Value) -> bool,
) -> Value {
    let event = stream
        .wait_for(&format!("an entity event for {id}"), |e| {
            e.event == "entity" && {
                let v = json(e);
                v["id"] == id && wanted(&v)
            }
        })
        .await;
    json(&event)
}

/// Reads `stream` for `window`, returning every event that came.
pub async fn events_for(stream: &mut SseStream, window: Duration) -> Vec<sse::SseEvent> {
    let deadline = tokio::time::Instant::now() + window;
    let mut out = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return out;
        }
        match tokio::time::timeout(left, stream.next_event_or_end(WAIT)).await {
            Ok(Some(event)) => out.push(event),
            Ok(None) | Err(_) => return out,
        }
    }
}
