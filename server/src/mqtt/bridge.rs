//! The bridge at run time: one connection to the broker per instance, and the duties of the one instance that
//! journals.
//!
//! Every instance connects, follows every discovery config, Zigbee2MQTT's device list and every announced
//! entity's state and availability topics, and keeps them in its [`Registry`]: so any instance can route a
//! command (it is the [`DeviceLink`] of the routes), knows the broker's health, and is ready to take over at
//! once with what the devices last said. Only the instance holding the `mqtt-bridge` lease journals: it turns
//! what the registry says changed into `entity` / `entity-removed` events, says whether the broker is reached
//! (`bridge`), confirms pending commands when their device reports the state asked for, and times them out
//! ([`pending`](super::pending)). Each write is a compare-and-set derived from that entity's state alone, and
//! a state equal to what the hub holds writes nothing, so a reconnect, a takeover or two instances seeing the
//! same message make no duplicate event.
//!
//! Bad input from the broker is skipped and counted ([`MqttMetrics`]), logged once per topic, and never
//! stored: the registry takes only configs that parsed, up to `--max-entities`.

use super::client::{Client, ClientEvent, Connection, Options};
use super::discovery::{self, Skip};
use super::registry::{Announced, Registry, Topics, View};
use super::spec::{requested_of, satisfies, Ignored};
use super::url::BrokerUrl;
use super::zigbee2mqtt;
use crate::clock::now_rfc3339;
use crate::commands::{Confirms, DeviceLink, LinkError};
use crate::config::Config;
use crate::hub::Hub;
use crate::lease::{self, Leases};
use crate::metrics::MqttMetrics;
use app::contract::{
    AreaId, BridgeState, CommandOutcome, Entity, EntityId, EntityRemoved, Outcome, Payload,
    Requested, Room, Snapshot, Source, UNASSIGNED_NAME, UNKNOWN,
};
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The lease whose holder journals what the broker says.
pub const LEASE: &str = "mqtt-bridge";
/// Zigbee2MQTT's device list may hold hundreds of devices: it may be this many times `--mqtt-max-payload`.
const DEVICE_LIST_FACTOR: usize = 64;
/// Topics whose skipped configs are logged, at most; the rest are counted only, so a flood cannot flood the log.
const MAX_WARNED_TOPICS: usize = 1024;

/// What the bridge is told by the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub url: BrokerUrl,
    pub ca_file: Option<std::path::PathBuf>,
    pub discovery_prefix: String,
    /// `None`: Zigbee2MQTT's own topics are not read.
    pub zigbee2mqtt_prefix: Option<String>,
    pub command_timeout: Duration,
    pub max_payload: usize,
    pub max_entities: usize,
    /// Whether the demo home is there: its entity ids are then not free for devices.
    pub demo_home: bool,
}

impl Settings {
    /// The bridge's settings, or `None` when no broker is configured.
    pub fn from_config(config: &Config) -> anyhow::Result<Option<Settings>> {
        let Some(raw) = &config.mqtt_url else {
            return Ok(None);
        };
        let url = BrokerUrl::parse(raw.expose())?;
        let prefix = config.zigbee2mqtt_prefix.trim().trim_end_matches('/');
        Ok(Some(Settings {
            url,
            ca_file: config.mqtt_ca_file.clone(),
            discovery_prefix: config
                .mqtt_discovery_prefix
                .trim_end_matches('/')
                .to_owned(),
            zigbee2mqtt_prefix: (!prefix.is_empty()).then(|| prefix.to_owned()),
            command_timeout: Duration::from_secs(config.command_timeout_secs.max(1)),
            max_payload: config.mqtt_max_payload.max(1),
            max_entities: config.max_entities,
            demo_home: config.demo_home(),
        }))
    }

    fn device_list_limit(&self) -> usize {
        self.max_payload.saturating_mul(DEVICE_LIST_FACTOR)
    }
}

/// Whether the broker is reached, as this instance last found.
#[derive(Debug, Clone, Default)]
struct Link {
    /// `None` until the first connection attempt ended either way.
    connected: Option<bool>,
    problem: Option<String>,
}

/// The broker as `/healthz` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BridgeHealth {
    pub connected: bool,
    /// The broker's URL, without its password.
    pub broker: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    pub entities: usize,
    /// Whether this instance journals what the broker says.
    pub journals: bool,
}

pub struct Bridge {
    settings: Settings,
    hub: Hub,
    client: Client,
    registry: Mutex<Registry>,
    link: Mutex<Link>,
    metrics: Arc<MqttMetrics>,
    /// Hashes of the topics whose skipped config was logged.
    warned: Mutex<HashSet<u64>>,
    /// The connection, until [`Bridge::start`].
    connection: Mutex<Option<Connection>>,
    /// Whether this instance holds the lease (false until started).
    held: Mutex<Option<watch::Receiver<bool>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Bridge {
    /// The bridge for `settings`, not started: nothing is connected or spawned yet.
    pub fn new(
        settings: Settings,
        hub: Hub,
        metrics: Arc<MqttMetrics>,
    ) -> anyhow::Result<Arc<Bridge>> {
        // The largest packet taken from the broker: the device list's limit, plus room for a long topic.
        let limit = settings.max_payload.max(settings.device_list_limit());
        let (client, connection) = Client::new(Options {
            url: &settings.url,
            ca_file: settings.ca_file.as_deref(),
            max_packet: limit.saturating_add(64 * 1024),
        })?;
        metrics.enable(&Skip::REASONS, &Ignored::REASONS);
        Ok(Arc::new(Bridge {
            registry: Mutex::new(Registry::new(settings.max_entities)),
            settings,
            hub,
            client,
            link: Mutex::new(Link::default()),
            metrics,
            warned: Mutex::new(HashSet::new()),
            connection: Mutex::new(Some(connection)),
            held: Mutex::new(None),
        }))
    }

    pub fn health(&self) -> BridgeHealth {
        let link = lock(&self.link).clone();
        BridgeHealth {
            connected: link.connected == Some(true),
            broker: self.settings.url.to_string(),
            problem: link.problem,
            entities: lock(&self.registry).len(),
            journals: lock(&self.held).as_ref().is_some_and(|h| *h.borrow()),
        }
    }

    /// Connects and runs: the connection, the lease, the message loop and the timeouts, each ending on
    /// `shutdown`. Once only; a second call does nothing.
    pub fn start(
        self: &Arc<Self>,
        leases: Arc<dyn Leases>,
        shutdown: &CancellationToken,
        tasks: &TaskTracker,
    ) {
        let Some(connection) = lock(&self.connection).take() else {
            return;
        };
        tracing::info!(broker = %self.settings.url, "connecting to the MQTT broker");
        let events = connection.spawn(shutdown.clone(), tasks);
        let held = lease::keep(leases, LEASE, shutdown.clone(), tasks);
        *lock(&self.held) = Some(held.clone());
        tasks.spawn(super::pending::watch(
            self.hub.clone(),
            self.settings.command_timeout,
            held.clone(),
            shutdown.clone(),
        ));
        tasks.spawn(Arc::clone(self).run(events, held, shutdown.clone()));
    }

    async fn run(
        self: Arc<Self>,
        mut events: mpsc::Receiver<ClientEvent>,
        mut held: watch::Receiver<bool>,
        shutdown: CancellationToken,
    ) {
        // The lease is renewed every second, and each renewal says so: only a change of hands is a takeover.
        let mut journalling = false;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                changed = held.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let now = *held.borrow_and_update();
                    if now && !journalling {
                        self.take_over().await;
                    }
                    journalling = now;
                }
                event = events.recv() => {
                    let Some(event) = event else { return };
                    let leader = *held.borrow();
                    self.handle(event, leader).await;
                }
            }
        }
    }

    async fn handle(&self, event: ClientEvent, leader: bool) {
        match event {
            ClientEvent::Connected => {
                tracing::info!(broker = %self.settings.url, "connected to the MQTT broker");
                *lock(&self.link) = Link {
                    connected: Some(true),
                    problem: None,
                };
                self.metrics.connected.store(1, Ordering::Relaxed);
                self.subscribe_all();
                // Home Assistant's birth message: devices that watch it announce themselves again.
                let status = discovery::status_topic(&self.settings.discovery_prefix);
                if let Err(e) = self.client.publish(&status, "online", false) {
                    tracing::warn!(error = %e, "could not announce Hearth on the broker");
                }
                if leader {
                    self.publish_bridge().await;
                }
            }
            ClientEvent::Disconnected(problem) => {
                tracing::warn!(broker = %self.settings.url, %problem, "the MQTT broker cannot be reached; retrying");
                *lock(&self.link) = Link {
                    connected: Some(false),
                    problem: Some(problem),
                };
                self.metrics.connected.store(0, Ordering::Relaxed);
                if leader {
                    self.publish_bridge().await;
                }
            }
            ClientEvent::Message { topic, payload } => {
                tracing::trace!(%topic, bytes = payload.len(), "message");
                self.metrics.messages.fetch_add(1, Ordering::Relaxed);
                self.message(&topic, &payload, leader).await;
            }
        }
    }

    /// After a (re)connection: the configs, the device list and every topic an entity reads.
    fn subscribe_all(&self) {
        let mut topics: Vec<String> =
            discovery::subscriptions(&self.settings.discovery_prefix).into();
        if let Some(prefix) = &self.settings.zigbee2mqtt_prefix {
            topics.push(zigbee2mqtt::devices_topic(prefix));
        }
        topics.extend(lock(&self.registry).topics().cloned());
        if let Err(e) = self.client.subscribe(&topics) {
            tracing::error!(error = %e, "could not subscribe to the broker's topics");
        }
    }

    fn follow(&self, topics: Topics) {
        tracing::debug!(subscribe = ?topics.subscribe, unsubscribe = ?topics.unsubscribe, "following topics");
        let done = self
            .client
            .unsubscribe(&topics.unsubscribe)
            .and_then(|()| self.client.subscribe(&topics.subscribe));
        if let Err(e) = done {
            tracing::error!(error = %e, "could not follow an entity's topics");
        }
    }

    async fn message(&self, topic: &str, payload: &[u8], leader: bool) {
        if let Some(config) = discovery::config_topic(&self.settings.discovery_prefix, topic) {
            self.config(topic, &config, payload, leader).await;
        } else if self
            .settings
            .zigbee2mqtt_prefix
            .as_deref()
            .is_some_and(|prefix| zigbee2mqtt::devices_topic(prefix) == topic)
        {
            self.device_list(topic, payload, leader).await;
        } else {
            self.state(topic, payload, leader).await;
        }
        let count = lock(&self.registry).len();
        self.metrics.entities.store(count as u64, Ordering::Relaxed);
    }

    /// Ids the demo home holds, which devices do not take.
    fn taken(&self) -> impl Fn(&EntityId) -> bool {
        let demo = self.settings.demo_home;
        move |id| demo && Room::of_entity(id).is_some()
    }

    async fn config(
        &self,
        topic: &str,
        config: &discovery::ConfigTopic,
        payload: &[u8],
        leader: bool,
    ) {
        if payload.len() > self.settings.max_payload {
            return self.skip(topic, &Skip::TooLarge(payload.len()));
        }
        let spec = match discovery::read_config(config, payload) {
            Ok(spec) => spec,
            Err(skip) => return self.skip(topic, &skip),
        };
        let Some(spec) = spec else {
            let (removed, topics) = lock(&self.registry).withdraw_config(topic);
            self.follow(topics);
            if let Some(id) = removed {
                tracing::info!(entity = %id, "a device withdrew its entity");
                if leader {
                    self.remove(id).await;
                }
            }
            return;
        };
        let taken = self.taken();
        let announced = lock(&self.registry).announce_config(topic, spec, &taken);
        match announced {
            Ok((announced, topics)) => {
                self.follow(topics);
                self.announced(announced, leader).await;
            }
            Err(skip) => self.skip(topic, &skip),
        }
    }

    async fn device_list(&self, topic: &str, payload: &[u8], leader: bool) {
        if payload.len() > self.settings.device_list_limit() {
            return self.skip(topic, &Skip::TooLarge(payload.len()));
        }
        let Some(prefix) = &self.settings.zigbee2mqtt_prefix else {
            return;
        };
        let specs = match zigbee2mqtt::read_devices(prefix, payload) {
            Ok(specs) => specs,
            Err(skip) => return self.skip(topic, &skip),
        };
        let taken = self.taken();
        let list = lock(&self.registry).zigbee_devices(specs, &taken);
        self.follow(list.topics);
        for announced in list.announced {
            match announced {
                Ok(announced) => self.announced(announced, leader).await,
                Err(skip) => self.skip(topic, &skip),
            }
        }
        if leader {
            for id in list.removed {
                self.remove(id).await;
            }
        }
    }

    async fn announced(&self, announced: Announced, leader: bool) {
        match announced {
            Announced::New(id) | Announced::Changed(id) if leader => self.sync(&id, false).await,
            _ => {}
        }
    }

    async fn state(&self, topic: &str, payload: &[u8], leader: bool) {
        let text = if payload.len() > self.settings.max_payload {
            Err(Ignored::TooLarge(payload.len()))
        } else {
            std::str::from_utf8(payload).map_err(|_| Ignored::NotText)
        };
        let heard = lock(&self.registry).hear(topic, text);
        for heard in heard {
            let arrived = match &heard.state {
                Some(Ok(())) => true,
                Some(Err(why)) => {
                    self.metrics.ignored(why.reason());
                    tracing::debug!(entity = %heard.id, topic, reason = why.reason(), "ignored a state: {why}");
                    false
                }
                None => false,
            };
            if leader && (arrived || heard.availability) {
                self.sync(&heard.id, arrived).await;
            }
        }
    }

    /// Counts a skipped config and logs it, once per topic.
    fn skip(&self, topic: &str, skip: &Skip) {
        self.metrics.skipped(skip.reason());
        if matches!(skip, Skip::Disabled) {
            tracing::debug!(topic, "left out an entity its device disables by default");
            return;
        }
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        topic.hash(&mut hasher);
        let mut warned = lock(&self.warned);
        if warned.len() >= MAX_WARNED_TOPICS {
            return;
        }
        if warned.insert(hasher.finish()) {
            let shown: String = topic.chars().take(200).collect();
            tracing::warn!(topic = %shown, reason = skip.reason(), "skipped an MQTT announcement: {skip}");
            if warned.len() == MAX_WARNED_TOPICS {
                tracing::warn!("more MQTT announcements may be skipped: they are counted on /metrics, no longer logged");
            }
        }
    }

    /// Writes entity `id` as the registry now sees it; `arrived`: a state message (or a takeover) that may
    /// confirm a pending command.
    async fn sync(&self, id: &EntityId, arrived: bool) {
        let Some(view) = lock(&self.registry).view(id) else {
            return;
        };
        let confirmed: Arc<Mutex<Option<Requested>>> = Arc::default();
        let cell = Arc::clone(&confirmed);
        let written = self
            .hub
            .update_as(move |snapshot: &Snapshot| {
                let prev = snapshot.entity(&view.id);
                let mut next = entity_of(&view, prev, snapshot);
                let mut cleared = None;
                if arrived {
                    if let (Some(pending), Some(reported)) = (&next.pending, &view.reported) {
                        if satisfies(pending, reported) {
                            cleared = requested_of(pending);
                            next.pending = None;
                        }
                    }
                }
                *lock(&cell) = cleared;
                (prev != Some(&next)).then_some(next)
            })
            .await;
        match written {
            Ok(Some(_)) => {
                let requested = lock(&confirmed).take();
                if let Some(requested) = requested {
                    let outcome = CommandOutcome {
                        id: id.clone(),
                        requested,
                        outcome: Outcome::Confirmed,
                    };
                    if let Err(e) = self.hub.publish_as(outcome).await {
                        tracing::warn!(error = %e, entity = %id, "could not publish a confirmation");
                    }
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, entity = %id, "could not store an entity's change")
            }
        }
    }

    async fn remove(&self, id: EntityId) {
        let removed = self
            .hub
            .update(move |snapshot| {
                snapshot
                    .entity(&id)
                    .filter(|e| e.source != Source::Demo)
                    .map(|_| Payload::EntityRemoved(EntityRemoved { id: id.clone() }))
            })
            .await;
        if let Err(e) = removed {
            tracing::warn!(error = %e, "could not remove an entity");
        }
    }

    /// Says whether the broker is reached, if that changed since the hub last heard.
    async fn publish_bridge(&self) {
        let Link { connected, problem } = lock(&self.link).clone();
        let Some(connected) = connected else {
            return;
        };
        let published = self
            .hub
            .update(move |snapshot| {
                let same = snapshot
                    .bridge
                    .as_ref()
                    .is_some_and(|b| b.connected == connected);
                (!same).then(|| {
                    Payload::Bridge(BridgeState {
                        connected,
                        changed_at: now_rfc3339(),
                        problem: problem.clone(),
                    })
                })
            })
            .await;
        if let Err(e) = published {
            tracing::warn!(error = %e, "could not store the broker's state");
        }
    }

    /// This instance now journals: the hub is brought in line with everything the registry knows.
    async fn take_over(&self) {
        tracing::info!("this instance now journals what the MQTT broker says");
        self.publish_bridge().await;
        let ids: Vec<EntityId> = lock(&self.registry).ids().cloned().collect();
        for id in ids {
            self.sync(&id, true).await;
        }
    }

    fn connected(&self) -> Result<(), LinkError> {
        let link = lock(&self.link);
        match link.connected {
            Some(true) => Ok(()),
            _ => Err(LinkError::Down(
                link.problem
                    .clone()
                    .unwrap_or_else(|| "not connected yet".into()),
            )),
        }
    }
}

/// The entity `view` describes, as it follows from what the hub holds (`prev`): what a person customised, a
/// pending command, and — until the device reports — the state and availability it had are kept.
fn entity_of(view: &View, prev: Option<&Entity>, snapshot: &Snapshot) -> Entity {
    let spec = &view.spec;
    let same_kind = prev.filter(|p| p.kind == spec.kind);
    let state = view
        .reported
        .clone()
        .or_else(|| same_kind.map(|p| p.state.clone()))
        .unwrap_or_else(|| UNKNOWN.to_owned());
    let available = view
        .available
        .or_else(|| prev.map(|p| p.available))
        .unwrap_or(spec.availability.assumed);
    let changed_at = match prev {
        Some(p) if p.state == state && p.available == available => p.changed_at.clone(),
        _ => now_rfc3339(),
    };
    let (area, area_name) = spec
        .area
        .as_deref()
        .and_then(|name| snapshot.resolve_area(name))
        .unwrap_or_else(|| (AreaId::unassigned(), UNASSIGNED_NAME.to_owned()));
    snapshot.customize(Entity {
        id: view.id.clone(),
        name: spec.name.clone(),
        area,
        area_name,
        kind: spec.kind,
        state,
        available,
        unit: spec.unit.clone(),
        device_class: spec.device_class.clone(),
        source: spec.source,
        changed_at,
        pending: same_kind.and_then(|p| p.pending.clone()),
        customized: prev.and_then(|p| p.customized.clone()),
    })
}

impl DeviceLink for Bridge {
    fn route(&self, id: &EntityId) -> Result<Confirms, LinkError> {
        self.connected()?;
        let registry = lock(&self.registry);
        let spec = registry.spec(id).ok_or_else(|| {
            LinkError::NoRoute(format!(
                "no device has announced {id} since Hearth connected"
            ))
        })?;
        if spec.command.is_none() {
            return Err(LinkError::NoRoute(format!(
                "{id} announced no command topic"
            )));
        }
        Ok(if spec.confirms() {
            Confirms::Yes
        } else {
            Confirms::No
        })
    }

    fn send(&self, id: &EntityId, requested: Requested) -> Result<(), LinkError> {
        self.connected()?;
        let (topic, payload) = {
            let registry = lock(&self.registry);
            let command = registry
                .spec(id)
                .and_then(|spec| spec.command.clone())
                .ok_or_else(|| LinkError::NoRoute(format!("{id} announced no command topic")))?;
            let payload = command
                .payload(requested)
                .map(str::to_owned)
                .ok_or_else(|| {
                    LinkError::NoRoute(format!("{id} announced no payload for {requested}"))
                })?;
            (command.topic, payload)
        };
        self.client
            .publish(&topic, &payload, false)
            .map_err(|e| LinkError::Down(e.to_string()))?;
        self.metrics.commands.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(entity = %id, %topic, %requested, "command handed to the broker");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::discovery::{config_topic, read_config};
    use crate::mqtt::spec::Spec;
    use app::contract::Customized;
    use serde_json::json;

    fn spec(config: serde_json::Value) -> Arc<Spec> {
        let topic = config_topic("homeassistant", "homeassistant/switch/x/config").unwrap();
        Arc::new(
            read_config(&topic, config.to_string().as_bytes())
                .unwrap()
                .unwrap(),
        )
    }

    fn view(reported: Option<&str>, available: Option<bool>) -> View {
        View {
            id: EntityId::parse("lamp").unwrap(),
            spec: spec(
                json!({"unique_id": "lamp", "name": "Lamp", "command_topic": "c", "state_topic": "s",
                              "availability_topic": "a", "device": {"name": "Desk", "suggested_area": "Study Room"}}),
            ),
            reported: reported.map(str::to_owned),
            available,
        }
    }

    #[test]
    fn a_new_entity_is_unknown_and_unavailable_until_its_device_says() {
        let snapshot = Snapshot::default();
        let entity = entity_of(&view(None, None), None, &snapshot);
        assert_eq!((entity.state.as_str(), entity.available), (UNKNOWN, false));
        assert_eq!(
            (
                entity.name.as_str(),
                entity.area.as_str(),
                entity.area_name.as_str()
            ),
            ("Desk Lamp", "study-room", "Study Room")
        );
        let heard = entity_of(&view(Some("on"), Some(true)), None, &snapshot);
        assert_eq!((heard.state.as_str(), heard.available), ("on", true));
    }

    #[test]
    fn a_re_announcement_keeps_the_state_the_customisation_and_the_pending_command() {
        let mut snapshot = Snapshot::default();
        let mut before = entity_of(&view(Some("on"), Some(true)), None, &snapshot);
        before.pending = Some("off".into());
        before.customized = Some(Customized {
            name: Some("Reading lamp".into()),
            area: Some("Bedroom".into()),
        });
        before.changed_at = "2026-12-01T00:00:00.000Z".into();
        let before = snapshot.customize(before);
        snapshot.entities.insert(before.id.clone(), before.clone());
        let again = entity_of(&view(None, None), Some(&before), &snapshot);
        assert_eq!(again.state, "on");
        assert!(again.available);
        assert_eq!(again.changed_at, before.changed_at, "nothing changed");
        assert_eq!(again.pending.as_deref(), Some("off"));
        assert_eq!(
            (again.name.as_str(), again.area.as_str()),
            ("Reading lamp", "bedroom")
        );
        assert_eq!(again, before, "an unchanged re-announcement writes nothing");
    }
}
