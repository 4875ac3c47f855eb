//! Commands to the home's entities, whatever source they came from: checked against the entity (it exists, its
//! kind takes the state, it is online), then applied — at once for the demo home and for a device that reports
//! no state of its own, or sent to a device that will confirm, which shows it as *pending* meanwhile.
//!
//! What reaches devices is a [`DeviceLink`], a seam this module defines and the MQTT bridge implements, so the
//! routes and this module know nothing of MQTT. The order of steps keeps the promise that what a client was told
//! and what the store and every subscriber hold agree: for a confirming device the pending state is made durable
//! first, then the command is handed to the broker; if that fails, the pending state is taken back and the
//! answer is 503. A device that then confirms (or not, in time) is the bridge's business: it clears `pending`
//! and publishes the `command` outcome.

use crate::clock::now_rfc3339;
use crate::hub::{Committed, Hub, HubError};
use app::contract::api::CommandAnswer;
use app::contract::{
    BadCommand, CommandOutcome, Entity, EntityId, Outcome, Requested, Snapshot, Source,
};
use std::sync::Arc;

/// How a device behind a link answers commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirms {
    /// It reports its state: a command is pending until it reports the requested one.
    Yes,
    /// It reports none (no state topic): its state is taken to be what was asked, at once.
    No,
}

/// Why a link could not hand a command on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The broker cannot be reached right now.
    #[error("the MQTT broker cannot be reached: {0}")]
    Down(String),
    /// The link does not (yet) know how to reach this entity's device.
    #[error("no way to reach this device is known yet: {0}")]
    NoRoute(String),
}

/// What reaches devices that are not the demo home's: the MQTT bridge.
pub trait DeviceLink: Send + Sync + 'static {
    /// How the device of `id` answers, or why it cannot be reached.
    fn route(&self, id: &EntityId) -> Result<Confirms, LinkError>;
    /// Hands `requested` to the device of `id`, once (MQTT QoS 1, not retained).
    fn send(&self, id: &EntityId, requested: Requested) -> Result<(), LinkError>;
}

/// Why a command was refused. Nothing of it was applied or sent.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("entity {0:?}")]
    NotFound(String),
    #[error("{0}")]
    WrongState(#[from] BadCommand),
    #[error("{0} is offline: its device says it is unavailable")]
    Offline(EntityId),
    #[error("{0}")]
    Unreachable(#[from] LinkError),
    #[error(transparent)]
    Hub(#[from] HubError),
}

/// The demo home's change to one entity: the state a command or the simulator sets.
fn with_state(entity: &Entity, state: &str, pending: Option<String>) -> Entity {
    let mut next = entity.clone();
    if next.state != state {
        next.changed_at = now_rfc3339();
    }
    next.state = state.to_owned();
    next.pending = pending;
    next
}

/// Sets the state of entity `id` (as it is when the change is applied), keeping what else it has; publishes
/// nothing if the entity is gone or already so.
pub async fn set_state(
    hub: &Hub,
    id: &EntityId,
    state: &'static str,
    pending: Option<String>,
) -> Result<Option<Committed<Entity>>, HubError> {
    let id = id.clone();
    hub.update_as(move |snapshot: &Snapshot| {
        let entity = snapshot.entity(&id)?;
        (entity.state != state || entity.pending != pending)
            .then(|| with_state(entity, state, pending.clone()))
    })
    .await
}

/// Carries out `requested` on entity `id`: the answer for the client, or why nothing happened.
pub async fn execute(
    hub: &Hub,
    link: Option<&Arc<dyn DeviceLink>>,
    id: &EntityId,
    requested: Requested,
) -> Result<CommandAnswer, CommandError> {
    let snapshot = hub.snapshot();
    let entity = snapshot
        .entity(id)
        .ok_or_else(|| CommandError::NotFound(id.to_string()))?;
    Requested::for_kind(entity.kind, requested.name())?;
    if !entity.available {
        return Err(CommandError::Offline(id.clone()));
    }
    let settled = requested.settled_state();
    let applied = |committed: Option<Committed<Entity>>| CommandAnswer::Applied {
        seq: committed.map_or(snapshot.seq, |c| c.seq),
        id: id.clone(),
        state: settled.to_owned(),
    };
    let link = match entity.source {
        Source::Demo => return Ok(applied(set_state(hub, id, settled, None).await?)),
        Source::Mqtt | Source::Zigbee2mqtt => link.ok_or_else(|| {
            LinkError::Down("Hearth is not connected to a broker (--mqtt-url)".into())
        })?,
    };
    match link.route(id)? {
        Confirms::No => {
            link.send(id, requested)?;
            Ok(applied(set_state(hub, id, settled, None).await?))
        }
        Confirms::Yes => {
            let current = entity.state.clone();
            let pending = set_pending(hub, id, Some(settled.to_owned())).await?;
            if let Err(e) = link.send(id, requested) {
                // Not sent: take the pending state back, so nobody waits for what will not come.
                if let Err(undo) = set_pending(hub, id, None).await {
                    tracing::error!(error = %undo, entity = %id, "could not clear a pending state");
                }
                return Err(e.into());
            }
            tracing::debug!(entity = %id, from = %current, to = settled, "command sent");
            let sent = hub
                .publish_as(CommandOutcome {
                    id: id.clone(),
                    requested,
                    outcome: Outcome::Sent,
                })
                .await?;
            let seq = pending.map_or(sent.seq, |p| p.seq.max(sent.seq));
            Ok(CommandAnswer::Sent {
                seq,
                id: id.clone(),
                requested,
            })
        }
    }
}

/// Sets or clears what entity `id` is waiting for, keeping its state.
pub async fn set_pending(
    hub: &Hub,
    id: &EntityId,
    pending: Option<String>,
) -> Result<Option<Committed<Entity>>, HubError> {
    let id = id.clone();
    hub.update_as(move |snapshot: &Snapshot| {
        let entity = snapshot.entity(&id)?;
        (entity.pending != pending).then(|| {
            let mut next = entity.clone();
            next.pending = pending.clone();
            next
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::MemoryBackend;
    use app::contract::{Device, DeviceState, EntityKind, Payload, Room};
    use std::sync::Mutex;

    fn hub() -> Hub {
        let metrics = Arc::new(crate::metrics::Metrics::default());
        Hub::new(
            Arc::new(MemoryBackend::new(100, 16, Arc::clone(&metrics))),
            metrics,
        )
    }

    /// A link that records what it sent, or refuses.
    #[derive(Default)]
    struct Recorded {
        sent: Mutex<Vec<(EntityId, Requested)>>,
        down: bool,
        confirms: bool,
    }

    impl DeviceLink for Recorded {
        fn route(&self, _: &EntityId) -> Result<Confirms, LinkError> {
            Ok(if self.confirms {
                Confirms::Yes
            } else {
                Confirms::No
            })
        }
        fn send(&self, id: &EntityId, requested: Requested) -> Result<(), LinkError> {
            if self.down {
                return Err(LinkError::Down("refused".into()));
            }
            self.sent.lock().unwrap().push((id.clone(), requested));
            Ok(())
        }
    }

    async fn add(hub: &Hub, mut entity: Entity, source: Source) -> EntityId {
        entity.source = source;
        let id = entity.id.clone();
        hub.publish(Payload::Entity(entity)).await.unwrap();
        id
    }

    fn lamp() -> Entity {
        Room::Kitchen.entity(Device::Lights, DeviceState::Off, "t".into())
    }

    #[tokio::test]
    async fn a_demo_entity_is_applied_at_once() {
        let hub = hub();
        let id = add(&hub, lamp(), Source::Demo).await;
        let answer = execute(&hub, None, &id, Requested::On).await.unwrap();
        assert!(matches!(answer, CommandAnswer::Applied { ref state, .. } if state == "on"));
        assert_eq!(hub.snapshot().entity(&id).unwrap().state, "on");
    }

    #[tokio::test]
    async fn a_confirming_device_is_sent_the_command_once_and_shows_it_pending() {
        let hub = hub();
        let id = add(&hub, lamp(), Source::Mqtt).await;
        let link: Arc<dyn DeviceLink> = Arc::new(Recorded {
            confirms: true,
            ..Recorded::default()
        });
        let answer = execute(&hub, Some(&link), &id, Requested::On)
            .await
            .unwrap();
        let CommandAnswer::Sent { seq, .. } = answer else {
            panic!("{answer:?}")
        };
        let snapshot = hub.snapshot();
        let entity = snapshot.entity(&id).unwrap();
        assert_eq!(
            (entity.state.as_str(), entity.pending.as_deref()),
            ("off", Some("on"))
        );
        assert_eq!(seq, snapshot.seq, "the answer names the last event it made");
    }

    #[tokio::test]
    async fn a_refused_send_leaves_nothing_pending_and_says_the_broker_is_down() {
        let hub = hub();
        let id = add(&hub, lamp(), Source::Mqtt).await;
        let link: Arc<dyn DeviceLink> = Arc::new(Recorded {
            confirms: true,
            down: true,
            ..Recorded::default()
        });
        let err = execute(&hub, Some(&link), &id, Requested::On)
            .await
            .unwrap_err();
        assert!(
            matches!(err, CommandError::Unreachable(LinkError::Down(_))),
            "{err}"
        );
        assert_eq!(hub.snapshot().entity(&id).unwrap().pending, None);
        let err = execute(&hub, None, &id, Requested::On).await.unwrap_err();
        assert!(
            matches!(err, CommandError::Unreachable(LinkError::Down(_))),
            "{err}"
        );
    }

    #[tokio::test]
    async fn unknown_offline_and_wrong_states_are_refused_before_anything_is_sent() {
        let hub = hub();
        let id = add(&hub, lamp(), Source::Mqtt).await;
        let recorded = Arc::new(Recorded::default());
        let link: Arc<dyn DeviceLink> = recorded.clone();
        let missing = EntityId::parse("nope").unwrap();
        assert!(matches!(
            execute(&hub, Some(&link), &missing, Requested::On).await,
            Err(CommandError::NotFound(_))
        ));
        assert!(matches!(
            execute(&hub, Some(&link), &id, Requested::Open).await,
            Err(CommandError::WrongState(_))
        ));
        let mut offline = lamp();
        offline.available = false;
        add(&hub, offline, Source::Mqtt).await;
        assert!(matches!(
            execute(&hub, Some(&link), &id, Requested::On).await,
            Err(CommandError::Offline(_))
        ));
        let mut sensor = lamp();
        sensor.kind = EntityKind::Sensor;
        sensor.available = true;
        add(&hub, sensor, Source::Mqtt).await;
        assert!(matches!(
            execute(&hub, Some(&link), &id, Requested::On).await,
            Err(CommandError::WrongState(_))
        ));
        assert!(recorded.sent.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_device_without_state_is_taken_at_its_word() {
        let hub = hub();
        let id = add(&hub, lamp(), Source::Mqtt).await;
        let recorded = Arc::new(Recorded::default());
        let link: Arc<dyn DeviceLink> = recorded.clone();
        let answer = execute(&hub, Some(&link), &id, Requested::On)
            .await
            .unwrap();
        assert!(
            matches!(answer, CommandAnswer::Applied { .. }),
            "{answer:?}"
        );
        assert_eq!(hub.snapshot().entity(&id).unwrap().state, "on");
        assert_eq!(*recorded.sent.lock().unwrap(), [(id, Requested::On)]);
    }
}
