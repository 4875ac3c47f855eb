//! What this instance knows of the devices on the broker: every announced entity with the announcements that
//! made it (a discovery config, Zigbee2MQTT's device list, or both), the id it was given, the last state and
//! availability its device reported, and which topic feeds which entity. Pure bookkeeping, no I/O: the
//! [`bridge`](super::bridge) feeds it messages and acts on what it says changed.
//!
//! Every instance keeps one, fed by the same broker, so every instance can route a command; only the one that
//! journals turns what it says into events.

use super::discovery::Skip;
use super::spec::{Identity, Ignored, Origin, Spec};
use app::contract::EntityId;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// One entity as announced and heard.
#[derive(Debug)]
struct Record {
    /// By origin; the first is the one in force (a discovery config before the device list).
    announcements: BTreeMap<Origin, Arc<Spec>>,
    /// The last state its device reported that fit its kind.
    reported: Option<String>,
    /// What each availability topic last said.
    heard: HashMap<String, bool>,
    /// What the availability topic heard from last said.
    latest: Option<bool>,
}

impl Record {
    fn spec(&self) -> Option<&Arc<Spec>> {
        self.announcements.values().next()
    }

    /// Whether its availability says online, once it has said anything.
    fn available(&self, spec: &Spec) -> Option<bool> {
        use super::spec::AvailabilityMode::*;
        let topics = &spec.availability.topics;
        if topics.is_empty() {
            return Some(true);
        }
        let said: Vec<Option<bool>> = topics
            .iter()
            .map(|t| self.heard.get(&t.topic).copied())
            .collect();
        match spec.availability.mode {
            Latest => self.latest,
            All if said.contains(&Some(false)) => Some(false),
            All => said.iter().all(Option::is_some).then_some(true),
            Any if said.contains(&Some(true)) => Some(true),
            Any => said.iter().all(Option::is_some).then_some(false),
        }
    }
}

/// What the journalling instance needs to write one entity: cheap to clone.
#[derive(Debug, Clone)]
pub struct View {
    pub id: EntityId,
    pub spec: Arc<Spec>,
    pub reported: Option<String>,
    /// `None` until its availability has said anything.
    pub available: Option<bool>,
}

/// What an announcement did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Announced {
    /// A new entity.
    New(EntityId),
    /// An entity whose spec in force changed.
    Changed(EntityId),
    /// The same as before (a device announcing itself again).
    Same(EntityId),
}

/// Topics to start and stop following.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Topics {
    pub subscribe: Vec<String>,
    pub unsubscribe: Vec<String>,
}

impl Topics {
    fn merge(&mut self, other: Topics) {
        self.subscribe.extend(other.subscribe);
        self.unsubscribe.extend(other.unsubscribe);
    }
}

/// What one message on a followed topic meant for one entity.
#[derive(Debug, Clone, PartialEq)]
pub struct Heard {
    pub id: EntityId,
    /// A state message: taken, or why not.
    pub state: Option<Result<(), Ignored>>,
    /// An availability message that said online or offline.
    pub availability: bool,
}

/// What a new device list did: the entities it announced (or why not), and those it no longer lists.
#[derive(Debug, Default)]
pub struct DeviceList {
    pub announced: Vec<Result<Announced, Skip>>,
    pub removed: Vec<EntityId>,
    pub topics: Topics,
}

#[derive(Debug)]
pub struct Registry {
    max_entities: usize,
    ids: HashMap<Identity, EntityId>,
    records: HashMap<EntityId, Record>,
    /// Which identity each discovery config topic announced.
    configs: HashMap<String, Identity>,
    /// The identities Zigbee2MQTT's device list announced.
    zigbee: HashSet<Identity>,
    /// Which entities read each followed topic.
    readers: HashMap<String, Vec<EntityId>>,
}

impl Registry {
    pub fn new(max_entities: usize) -> Registry {
        Registry {
            max_entities,
            ids: HashMap::new(),
            records: HashMap::new(),
            configs: HashMap::new(),
            zigbee: HashSet::new(),
            readers: HashMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn ids(&self) -> impl Iterator<Item = &EntityId> {
        self.records.keys()
    }

    /// Every topic some entity reads.
    pub fn topics(&self) -> impl Iterator<Item = &String> {
        self.readers.keys()
    }

    /// The spec in force for `id`.
    pub fn spec(&self, id: &EntityId) -> Option<&Arc<Spec>> {
        self.records.get(id)?.spec()
    }

    pub fn view(&self, id: &EntityId) -> Option<View> {
        let record = self.records.get(id)?;
        let spec = record.spec()?;
        Some(View {
            id: id.clone(),
            spec: Arc::clone(spec),
            reported: record.reported.clone(),
            available: record.available(spec),
        })
    }

    /// Takes a discovery config's spec (`taken` says which ids other sources hold).
    pub fn announce_config(
        &mut self,
        topic: &str,
        spec: Spec,
        taken: &dyn Fn(&EntityId) -> bool,
    ) -> Result<(Announced, Topics), Skip> {
        let mut topics = Topics::default();
        if let Some(before) = self.configs.get(topic) {
            if *before != spec.identity {
                // The config now names another entity: the one it named is withdrawn first.
                let (_, withdrawn) = self.withdraw_config(topic);
                topics.merge(withdrawn);
            }
        }
        let origin = Origin::Discovery(topic.to_owned());
        let identity = spec.identity.clone();
        let (announced, more) = self.announce(origin, spec, taken)?;
        self.configs.insert(topic.to_owned(), identity);
        topics.merge(more);
        Ok((announced, topics))
    }

    /// Withdraws what the config on `topic` announced: the entity's id if that was its last announcement.
    pub fn withdraw_config(&mut self, topic: &str) -> (Option<EntityId>, Topics) {
        let Some(identity) = self.configs.remove(topic) else {
            return (None, Topics::default());
        };
        self.withdraw(&identity, &Origin::Discovery(topic.to_owned()))
    }

    /// Takes Zigbee2MQTT's device list: announces what it lists, withdraws what it no longer does.
    pub fn zigbee_devices(
        &mut self,
        specs: Vec<Spec>,
        taken: &dyn Fn(&EntityId) -> bool,
    ) -> DeviceList {
        let mut out = DeviceList::default();
        let listed: HashSet<Identity> = specs.iter().map(|s| s.identity.clone()).collect();
        let gone: Vec<Identity> = self.zigbee.difference(&listed).cloned().collect();
        for identity in gone {
            self.zigbee.remove(&identity);
            let (removed, topics) = self.withdraw(&identity, &Origin::Zigbee2mqtt);
            out.removed.extend(removed);
            out.topics.merge(topics);
        }
        for spec in specs {
            let identity = spec.identity.clone();
            let result = self.announce(Origin::Zigbee2mqtt, spec, taken);
            if result.is_ok() {
                self.zigbee.insert(identity);
            }
            out.announced.push(result.map(|(announced, topics)| {
                out.topics.merge(topics);
                announced
            }));
        }
        out
    }

    fn announce(
        &mut self,
        origin: Origin,
        spec: Spec,
        taken: &dyn Fn(&EntityId) -> bool,
    ) -> Result<(Announced, Topics), Skip> {
        let spec = Arc::new(spec);
        let Some(id) = self.ids.get(&spec.identity).cloned() else {
            if self.records.len() >= self.max_entities {
                return Err(Skip::TooMany(self.max_entities));
            }
            let records = &self.records;
            let id = spec
                .preferred_id
                .clone()
                .unique(|candidate| records.contains_key(candidate) || taken(candidate));
            self.ids.insert(spec.identity.clone(), id.clone());
            self.records.insert(
                id.clone(),
                Record {
                    announcements: BTreeMap::from([(origin, spec)]),
                    reported: None,
                    heard: HashMap::new(),
                    latest: None,
                },
            );
            let topics = self.follow(&id, None);
            return Ok((Announced::New(id), topics));
        };
        let Some(record) = self.records.get_mut(&id) else {
            return Err(Skip::Incomplete("an entity lost its record".into()));
        };
        let before = record.spec().cloned();
        record.announcements.insert(origin, spec);
        let after = record.spec().cloned();
        if before.as_deref() == after.as_deref() {
            return Ok((Announced::Same(id), Topics::default()));
        }
        let topics = self.follow(&id, before.as_deref());
        Ok((Announced::Changed(id), topics))
    }

    fn withdraw(&mut self, identity: &Identity, origin: &Origin) -> (Option<EntityId>, Topics) {
        let Some(id) = self.ids.get(identity).cloned() else {
            return (None, Topics::default());
        };
        let Some(record) = self.records.get_mut(&id) else {
            return (None, Topics::default());
        };
        let before = record.spec().cloned();
        record.announcements.remove(origin);
        if !record.announcements.is_empty() {
            let topics = self.follow(&id, before.as_deref());
            return (None, topics);
        }
        self.records.remove(&id);
        self.ids.remove(identity);
        let topics = self.follow(&id, before.as_deref());
        (Some(id), topics)
    }

    /// Brings the topic index in line with `id`'s spec now (none: it is gone), given the spec it had.
    fn follow(&mut self, id: &EntityId, before: Option<&Spec>) -> Topics {
        let record = self.records.get_mut(id);
        let now: HashSet<String> = record
            .as_ref()
            .and_then(|r| r.spec())
            .map(|s| s.topics().map(str::to_owned).collect())
            .unwrap_or_default();
        let old: HashSet<String> = before
            .map(|s| s.topics().map(str::to_owned).collect())
            .unwrap_or_default();
        if let Some(record) = record {
            record.heard.retain(|topic, _| now.contains(topic));
        }
        let mut topics = Topics::default();
        for topic in old.difference(&now) {
            if let Some(readers) = self.readers.get_mut(topic) {
                readers.retain(|r| r != id);
                if readers.is_empty() {
                    self.readers.remove(topic);
                    topics.unsubscribe.push(topic.clone());
                }
            }
        }
        for topic in now.difference(&old) {
            let readers = self.readers.entry(topic.clone()).or_default();
            if readers.is_empty() {
                topics.subscribe.push(topic.clone());
            }
            if !readers.contains(id) {
                readers.push(id.clone());
            }
        }
        topics.subscribe.sort();
        topics.unsubscribe.sort();
        topics
    }

    /// Reads a message on a followed topic: what it meant for each entity that reads it.
    pub fn hear(&mut self, topic: &str, payload: Result<&str, Ignored>) -> Vec<Heard> {
        let Some(readers) = self.readers.get(topic) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(readers.len());
        for id in readers {
            let Some(record) = self.records.get_mut(id) else {
                continue;
            };
            let Some(spec) = record.spec().cloned() else {
                continue;
            };
            let mut heard = Heard {
                id: id.clone(),
                state: None,
                availability: false,
            };
            let state = spec.state.as_ref().filter(|s| s.topic == topic);
            // A cover's position stands for its state only when it has no state topic.
            let position = spec
                .position
                .as_ref()
                .filter(|p| p.topic == topic && spec.state.is_none());
            let read = match (state, position, &payload) {
                (_, _, Err(why)) if state.is_some() || position.is_some() => Some(Err(why.clone())),
                (Some(state), _, Ok(text)) => Some(state.read(text)),
                (None, Some(position), Ok(text)) => Some(position.read(text)),
                _ => None,
            };
            if let Some(read) = read {
                heard.state = Some(read.map(|value| record.reported = Some(value)));
            }
            if let Ok(text) = payload {
                for availability in spec.availability.topics.iter().filter(|a| a.topic == topic) {
                    if let Some(online) = availability.read(text) {
                        record.heard.insert(topic.to_owned(), online);
                        record.latest = Some(online);
                        heard.availability = true;
                    }
                }
            }
            out.push(heard);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::discovery::{config_topic, read_config};
    use crate::mqtt::zigbee2mqtt::read_devices;
    use serde_json::json;

    fn spec(topic: &str, config: serde_json::Value) -> Spec {
        let topic = config_topic("homeassistant", topic).unwrap();
        read_config(&topic, config.to_string().as_bytes())
            .unwrap()
            .unwrap()
    }

    fn switch(unique_id: &str, state_topic: &str) -> Spec {
        spec(
            "homeassistant/switch/x/config",
            json!({"unique_id": unique_id, "command_topic": "c", "state_topic": state_topic,
                   "availability_topic": "dev/status"}),
        )
    }

    const FREE: &dyn Fn(&EntityId) -> bool = &|_| false;

    #[test]
    fn an_announcement_follows_its_topics_once_and_a_second_one_changes_nothing() {
        let mut registry = Registry::new(10);
        let (announced, topics) = registry
            .announce_config(
                "homeassistant/switch/x/config",
                switch("lamp", "lamp/state"),
                FREE,
            )
            .unwrap();
        let id = EntityId::parse("lamp").unwrap();
        assert_eq!(announced, Announced::New(id.clone()));
        assert_eq!(topics.subscribe, ["dev/status", "lamp/state"]);
        let (again, topics) = registry
            .announce_config(
                "homeassistant/switch/x/config",
                switch("lamp", "lamp/state"),
                FREE,
            )
            .unwrap();
        assert_eq!(
            (again, topics),
            (Announced::Same(id.clone()), Topics::default())
        );
        let (changed, topics) = registry
            .announce_config(
                "homeassistant/switch/x/config",
                switch("lamp", "lamp/new"),
                FREE,
            )
            .unwrap();
        assert_eq!(changed, Announced::Changed(id.clone()));
        assert_eq!(
            (topics.subscribe, topics.unsubscribe),
            (vec!["lamp/new".to_owned()], vec!["lamp/state".to_owned()])
        );
        let (removed, topics) = registry.withdraw_config("homeassistant/switch/x/config");
        assert_eq!(removed, Some(id));
        assert_eq!(topics.unsubscribe, ["dev/status", "lamp/new"]);
        assert!(registry.is_empty() && registry.topics().next().is_none());
    }

    #[test]
    fn colliding_ids_are_numbered_and_other_sources_ids_are_left_alone() {
        let mut registry = Registry::new(10);
        let taken = |id: &EntityId| id.as_str() == "kitchen-lights";
        let (a, _) = registry
            .announce_config(
                "homeassistant/switch/a/config",
                switch("Kitchen Lights", "a"),
                &taken,
            )
            .unwrap();
        let (b, _) = registry
            .announce_config(
                "homeassistant/switch/b/config",
                switch("kitchen_lights", "b"),
                &taken,
            )
            .unwrap();
        assert_eq!(
            a,
            Announced::New(EntityId::parse("kitchen-lights-2").unwrap())
        );
        assert_eq!(
            b,
            Announced::New(EntityId::parse("kitchen-lights-3").unwrap())
        );
    }

    #[test]
    fn states_and_availability_are_heard_by_every_reader() {
        let mut registry = Registry::new(10);
        for (topic, id) in [
            ("homeassistant/switch/a/config", "a"),
            ("homeassistant/switch/b/config", "b"),
        ] {
            registry
                .announce_config(topic, switch(id, "shared/state"), FREE)
                .unwrap();
        }
        let heard = registry.hear("shared/state", Ok("ON"));
        assert_eq!(heard.len(), 2);
        assert!(heard.iter().all(|h| h.state == Some(Ok(()))));
        let a = EntityId::parse("a").unwrap();
        assert_eq!(registry.view(&a).unwrap().reported.as_deref(), Some("on"));
        assert_eq!(registry.view(&a).unwrap().available, None, "not heard yet");
        let heard = registry.hear("dev/status", Ok("offline"));
        assert!(heard.iter().all(|h| h.availability && h.state.is_none()));
        assert_eq!(registry.view(&a).unwrap().available, Some(false));
        let heard = registry.hear("shared/state", Ok("maybe"));
        assert!(matches!(heard[0].state, Some(Err(Ignored::Unexpected(_)))));
        assert_eq!(
            registry.view(&a).unwrap().reported.as_deref(),
            Some("on"),
            "kept"
        );
        assert!(registry.hear("unknown/topic", Ok("ON")).is_empty());
    }

    #[test]
    fn more_than_the_limit_are_refused() {
        let mut registry = Registry::new(1);
        registry
            .announce_config("homeassistant/switch/a/config", switch("a", "a"), FREE)
            .unwrap();
        let err = registry
            .announce_config("homeassistant/switch/b/config", switch("b", "b"), FREE)
            .unwrap_err();
        assert_eq!(err.reason(), "too_many_entities");
        assert!(registry
            .announce_config("homeassistant/switch/a/config", switch("a", "a"), FREE)
            .is_ok());
    }

    #[test]
    fn a_zigbee_device_announced_both_ways_is_one_entity() {
        let mut registry = Registry::new(10);
        let list = json!([{"ieee_address": "0x000b57fffec6a5b2", "friendly_name": "bulb",
            "definition": {"exposes": [{"type": "light", "features": [
                {"type": "binary", "name": "state", "property": "state", "access": 7, "value_on": "ON", "value_off": "OFF"}]}]}}]);
        let specs = read_devices("zigbee2mqtt", list.to_string().as_bytes()).unwrap();
        let from_list = registry.zigbee_devices(specs, FREE);
        let id = EntityId::parse("0x000b57fffec6a5b2-light-zigbee2mqtt").unwrap();
        assert_eq!(from_list.announced, [Ok(Announced::New(id.clone()))]);
        let config = spec(
            "homeassistant/light/0x000b57fffec6a5b2/light/config",
            json!({"schema": "json", "name": null, "command_topic": "zigbee2mqtt/bulb/set",
                   "state_topic": "zigbee2mqtt/bulb", "unique_id": "0x000b57fffec6a5b2_light_zigbee2mqtt",
                   "device": {"identifiers": ["zigbee2mqtt_0x000b57fffec6a5b2"], "name": "Bulb", "suggested_area": "Hall"}}),
        );
        let (announced, _) = registry
            .announce_config(
                "homeassistant/light/0x000b57fffec6a5b2/light/config",
                config,
                FREE,
            )
            .unwrap();
        assert_eq!(
            announced,
            Announced::Changed(id.clone()),
            "the config's spec wins"
        );
        assert_eq!(registry.len(), 1);
        assert_eq!(registry.spec(&id).unwrap().area.as_deref(), Some("Hall"));
        let (removed, _) =
            registry.withdraw_config("homeassistant/light/0x000b57fffec6a5b2/light/config");
        assert_eq!(removed, None, "still in the device list");
        let emptied = registry.zigbee_devices(Vec::new(), FREE);
        assert_eq!(emptied.removed, [id]);
        assert!(registry.is_empty());
    }
}
