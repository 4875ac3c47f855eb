//! Commands waiting for their device. The journalling instance follows the home's entities on the hub and gives
//! each entity it sees pending `--command-timeout-secs` (on takeover, every entity already pending gets the
//! whole timeout from then); when it passes and the entity still waits for the same state, `pending` is cleared
//! — the switch shows what the device last said — and a `command` event says `timeout`. Both steps are one
//! compare-and-set on the entity, so a confirmation that arrives at the same moment wins or loses whole.

use super::spec::requested_of;
use crate::hub::{Hub, Start, SubscribeRequest};
use app::contract::{
    CommandOutcome, Entity, EntityId, Outcome, Payload, Snapshot, Topic, TopicSet,
};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What each pending entity waits for, and until when.
#[derive(Debug, Default)]
struct Waiting(HashMap<EntityId, (String, Instant)>);

impl Waiting {
    /// Notes `entity` as it now is: a new pending state starts its clock, no pending state stops it.
    fn see(&mut self, entity: &Entity, timeout: Duration) {
        match &entity.pending {
            Some(pending) => {
                let same = self
                    .0
                    .get(&entity.id)
                    .is_some_and(|(waiting, _)| waiting == pending);
                if !same {
                    self.0.insert(
                        entity.id.clone(),
                        (pending.clone(), Instant::now() + timeout),
                    );
                }
            }
            None => {
                self.0.remove(&entity.id);
            }
        }
    }

    /// Starts from `snapshot`: what it holds pending keeps its clock if already running.
    fn resync(&mut self, snapshot: &Snapshot, timeout: Duration) {
        self.0
            .retain(|id, _| snapshot.entity(id).is_some_and(|e| e.pending.is_some()));
        for entity in snapshot.entities.values() {
            self.see(entity, timeout);
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.0.values().map(|(_, at)| *at).min()
    }

    fn take_expired(&mut self, now: Instant) -> Vec<(EntityId, String)> {
        let expired: Vec<(EntityId, String)> = self
            .0
            .iter()
            .filter(|(_, (_, at))| *at <= now)
            .map(|(id, (pending, _))| (id.clone(), pending.clone()))
            .collect();
        for (id, _) in &expired {
            self.0.remove(id);
        }
        expired
    }
}

/// Runs while this instance journals (`held`), until `shutdown`.
pub async fn watch(
    hub: Hub,
    timeout: Duration,
    mut held: watch::Receiver<bool>,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            closed = async { held.wait_for(|h| *h).await.is_err() } => if closed { return },
        }
        let subscription = hub
            .subscribe(SubscribeRequest {
                topics: TopicSet::of(&[Topic::Entities]),
                last_event_id: None,
                state_stands_in: true,
            })
            .await;
        let mut live = subscription.live;
        let mut waiting = Waiting::default();
        let start = match subscription.start {
            Start::Fresh(snapshot) | Start::Reset(snapshot) => snapshot,
            Start::Resume(_) => hub.snapshot(),
        };
        waiting.resync(&start, timeout);
        loop {
            let deadline = waiting.next_deadline();
            tokio::select! {
                _ = shutdown.cancelled() => return,
                closed = async { held.wait_for(|h| !*h).await.is_err() } => {
                    if closed { return }
                    break;
                }
                event = live.recv() => match event {
                    Ok(event) => match &event.payload {
                        Payload::Entity(entity) => waiting.see(entity, timeout),
                        Payload::EntityRemoved(removed) => { waiting.0.remove(&removed.id); }
                        _ => {}
                    },
                    Err(RecvError::Lagged(_)) => waiting.resync(&hub.snapshot(), timeout),
                    Err(RecvError::Closed) => return,
                },
                _ = sleep_until(deadline) => {
                    for (id, pending) in waiting.take_expired(Instant::now()) {
                        give_up(&hub, id, pending).await;
                    }
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Clears `pending` on entity `id` if it still waits for it, then says the command timed out.
async fn give_up(hub: &Hub, id: EntityId, pending: String) {
    let Some(requested) = requested_of(&pending) else {
        return;
    };
    let found = id.clone();
    let cleared = hub
        .update_as(move |snapshot: &Snapshot| {
            let entity = snapshot.entity(&found)?;
            (entity.pending.as_deref() == Some(pending.as_str())).then(|| {
                let mut next = entity.clone();
                next.pending = None;
                next
            })
        })
        .await;
    match cleared {
        Ok(Some(_)) => {
            tracing::info!(entity = %id, %requested, "the device did not confirm a command in time");
            let outcome = CommandOutcome {
                id,
                requested,
                outcome: Outcome::Timeout,
            };
            if let Err(e) = hub.publish_as(outcome).await {
                tracing::warn!(error = %e, "could not publish a command's timeout");
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, entity = %id, "could not clear a pending command"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::MemoryBackend;
    use app::contract::{Device, DeviceState, Room, Source};
    use std::sync::Arc;

    fn hub() -> Hub {
        let metrics = Arc::new(crate::metrics::Metrics::default());
        Hub::new(
            Arc::new(MemoryBackend::new(100, 64, Arc::clone(&metrics))),
            metrics,
        )
    }

    fn lamp(pending: Option<&str>) -> Entity {
        let mut entity = Room::Kitchen.entity(Device::Lights, DeviceState::Off, "t".into());
        entity.source = Source::Mqtt;
        entity.pending = pending.map(str::to_owned);
        entity
    }

    #[tokio::test]
    async fn a_pending_command_times_out_once_and_leaves_the_state_as_the_device_said() {
        let hub = hub();
        let mut feed = hub
            .subscribe(SubscribeRequest {
                topics: TopicSet::of(&[Topic::Entities]),
                last_event_id: None,
                state_stands_in: true,
            })
            .await
            .live;
        let (held_tx, held) = watch::channel(true);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(watch(
            hub.clone(),
            Duration::from_millis(200),
            held,
            shutdown.clone(),
        ));
        hub.publish(Payload::Entity(lamp(Some("on"))))
            .await
            .unwrap();
        let mut outcomes = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while outcomes.is_empty() {
            let event = tokio::time::timeout_at(deadline, feed.recv())
                .await
                .unwrap()
                .unwrap();
            if let Payload::Command(outcome) = &event.payload {
                outcomes.push(outcome.clone());
            }
        }
        assert_eq!(outcomes[0].outcome, Outcome::Timeout);
        let entity = hub.snapshot().entities.values().next().cloned().unwrap();
        assert_eq!((entity.state.as_str(), entity.pending), ("off", None));
        shutdown.cancel();
        drop(held_tx);
        task.await.unwrap();
    }

    #[test]
    fn a_confirmed_or_replaced_request_stops_or_restarts_its_clock() {
        let mut waiting = Waiting::default();
        let timeout = Duration::from_secs(10);
        waiting.see(&lamp(Some("on")), timeout);
        let first = waiting.next_deadline().unwrap();
        waiting.see(&lamp(Some("on")), timeout);
        assert_eq!(
            waiting.next_deadline(),
            Some(first),
            "the same request keeps its clock"
        );
        waiting.see(&lamp(None), timeout);
        assert_eq!(waiting.next_deadline(), None);
        waiting.see(&lamp(Some("off")), timeout);
        assert!(waiting.take_expired(Instant::now()).is_empty());
        assert_eq!(waiting.take_expired(Instant::now() + timeout).len(), 1);
    }
}
