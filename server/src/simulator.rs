//! Background producers: the sensors (living-room temperature every 5 s, the tutorial's random number every
//! second, a front-door camera snapshot every 30 s) and the demo home: its six entities, put in place at start,
//! and the simulator that animates its rooms (every 1000 / 1800 / 2600 ms, as in the tutorial), so a fresh start
//! is alive. The demo home is there by default without a broker (`--no-simulator` keeps its rooms still) and not
//! with one unless asked for (`--simulator`); when it is not, its entities are taken away, and its thermometer
//! and camera stay off (a real home's dashboard shows only what its devices report). While it is there its
//! sensors always run, because their routes promise a reading at that rate; the tutorial's random numbers are not
//! the home's and always run.
//! Every task ends on shutdown.
//!
//! With several instances, the temperature sensor, the camera and the simulator run on one of them at a time: the
//! one that holds the `simulator` lease (one reading per period across all instances, not one per instance). The random
//! numbers are live only and never leave an instance, so every instance makes its own.

use crate::clock::now_rfc3339;
use crate::commands::set_state;
use crate::config::Config;
use crate::hub::{Hub, HubError};
use crate::lease::{self, Leases};
use app::contract::{
    CameraShot, Entity, EntityRemoved, Payload, RandomNumber, Room, Source, Temperature,
};
use rand::Rng;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How often the simulator changes each room, from the smart-home tutorial.
pub fn room_period(room: Room) -> Duration {
    Duration::from_millis(match room {
        Room::Kitchen => 1000,
        Room::Livingroom => 1800,
        Room::Bedroom => 2600,
    })
}

/// How often the front-door camera takes a snapshot (the first one at start).
pub const CAMERA_PERIOD: Duration = Duration::from_secs(30);

/// The lease whose holder runs the sensor and the simulator.
pub const LEASE: &str = "simulator";

/// Starts every background producer the configuration asks for; each ends on `shutdown`. The shared ones
/// produce only while this instance holds the simulator's lease in `leases`.
pub fn spawn_all(
    hub: &Hub,
    config: &Config,
    shutdown: &CancellationToken,
    tasks: &TaskTracker,
    leases: Arc<dyn Leases>,
) {
    let held = lease::keep(leases, LEASE, shutdown.clone(), tasks);
    // The living room's thermometer and the front-door camera are the demo home's: a real home's dashboard
    // shows what its own devices report, never a made-up reading.
    if config.demo_home() {
        let temperature = Duration::from_millis(config.temperature_ms);
        tasks.spawn(temperature_sensor(
            hub.clone(),
            temperature,
            shutdown.clone(),
            held.clone(),
        ));
        tasks.spawn(front_door_camera(
            hub.clone(),
            shutdown.clone(),
            held.clone(),
        ));
    }
    let random = Duration::from_millis(config.random_ms);
    tasks.spawn(random_numbers(hub.clone(), random, shutdown.clone()));
    if config.animate_demo() {
        for room in Room::ALL {
            tasks.spawn(animate_room(
                hub.clone(),
                room,
                shutdown.clone(),
                held.clone(),
            ));
        }
    }
}

/// A background update in flight.
type Produce = Pin<Box<dyn Future<Output = Result<(), HubError>> + Send>>;

/// Publishes what `tick` makes every `period` until shutdown. An update that cannot be stored is logged and
/// skipped: the next one follows.
async fn every(
    hub: Hub,
    period: Duration,
    shutdown: CancellationToken,
    mut held: Option<watch::Receiver<bool>>,
    mut tick: impl FnMut(Hub) -> Produce,
) {
    let mut interval = tokio::time::interval(period.max(Duration::from_millis(10)));
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        if let Some(held) = &mut held {
            // Not ours (another instance runs it), or not any more: wait until it is.
            tokio::select! {
                _ = shutdown.cancelled() => return,
                ours = held.wait_for(|h| *h) => if ours.is_err() { return },
            }
        }
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => return,
            _ = interval.tick() => {
                if shutdown.is_cancelled() || held.as_ref().is_some_and(|h| !*h.borrow()) {
                    continue;
                }
                if let Err(e) = tick(hub.clone()).await {
                    tracing::warn!(error = %e, "a background update was not stored");
                }
            }
        }
    }
}

async fn temperature_sensor(
    hub: Hub,
    period: Duration,
    shutdown: CancellationToken,
    held: watch::Receiver<bool>,
) {
    let mut current = hub
        .snapshot()
        .temperature()
        .map_or(21.0_f64, |t| t.temperature);
    every(hub, period, shutdown, Some(held), move |hub| {
        // A slow random walk that stays in a believable indoor range.
        let step = rand::rng().random_range(-0.3..=0.3);
        current = (current + step).clamp(17.0, 26.0);
        let reading = Temperature {
            temperature: (current * 10.0).round() / 10.0,
            updated_at: now_rfc3339(),
        };
        Box::pin(async move { hub.publish(Payload::Temperature(reading)).await.map(drop) })
    })
    .await;
}

async fn random_numbers(hub: Hub, period: Duration, shutdown: CancellationToken) {
    every(hub, period, shutdown, None, move |hub| {
        let value = rand::rng().random::<f64>();
        Box::pin(async move {
            hub.publish(Payload::Random(RandomNumber { value }))
                .await
                .map(drop)
        })
    })
    .await;
}

/// Takes a snapshot: publishes the URL of a new image, which the image route draws on request.
///
/// The URL carries the event's own id. `Hub::update` shows the closure the state as of the last accepted event
/// and gives this event the next id, so that is `seq + 1`; it is also kept above every earlier shot's id, so a
/// URL can never name two shots even if ids were to jump.
/// The front-door camera: a shot now and then. Its event carries only where the image is; the hub gives the URL
/// the shot's event id.
async fn front_door_camera(hub: Hub, shutdown: CancellationToken, held: watch::Receiver<bool>) {
    every(hub, CAMERA_PERIOD, shutdown, Some(held), move |hub| {
        let shot = CameraShot::new(0, now_rfc3339());
        Box::pin(async move { hub.publish(Payload::Camera(shot)).await.map(drop) })
    })
    .await;
}

/// Puts the demo home's entities in place when it runs (each only if missing, so a restart keeps their states),
/// or takes them away when it does not. Done at start, before serving; every change is a compare-and-set on the
/// entity, so instances starting together add each entity once.
pub async fn arrange_demo_home(hub: &Hub, demo: bool) {
    let now = now_rfc3339();
    let wanted: Vec<Entity> = if demo {
        Room::demo_home(&now)
    } else {
        Vec::new()
    };
    for entity in wanted {
        let id = entity.id.clone();
        let added = hub
            .update(move |snapshot| {
                snapshot
                    .entity(&id)
                    .is_none()
                    .then(|| Payload::Entity(entity.clone()))
            })
            .await;
        if let Err(e) = added {
            tracing::warn!(error = %e, "could not put a demo entity in place");
        }
    }
    if demo {
        return;
    }
    let gone: Vec<_> = hub
        .snapshot()
        .entities
        .values()
        .filter(|e| e.source == Source::Demo)
        .map(|e| e.id.clone())
        .collect();
    for id in gone {
        let removed = hub
            .update(move |snapshot| {
                snapshot
                    .entity(&id)
                    .map(|_| Payload::EntityRemoved(EntityRemoved { id: id.clone() }))
            })
            .await;
        if let Err(e) = removed {
            tracing::warn!(error = %e, "could not take a demo entity away");
        }
    }
}

/// Sets each device of the room to a random state, as the tutorial's server did: an event for each device whose
/// state changed.
async fn animate_room(
    hub: Hub,
    room: Room,
    shutdown: CancellationToken,
    held: watch::Receiver<bool>,
) {
    every(hub, room_period(room), shutdown, Some(held), move |hub| {
        let picks: Vec<_> = room
            .devices()
            .iter()
            .map(|device| {
                let states = device.states();
                let state = states[rand::rng().random_range(0..states.len())];
                (room.entity_id(*device), state)
            })
            .collect();
        Box::pin(async move {
            for (id, state) in picks {
                set_state(&hub, &id, state.name(), None).await?;
            }
            Ok(())
        })
    })
    .await;
}
