//! Background producers: the sensors (living-room temperature every 5 s, the tutorial's random number every
//! second, a front-door camera snapshot every 30 s) and the demo simulator that animates the rooms (every 1000 / 1800 / 2600 ms, as in the tutorial), so a
//! fresh start is alive. The simulator can be switched off (`--no-simulator`); the sensors always run, because
//! their routes promise a reading at that rate. Every task ends on shutdown.

use crate::hub::{Hub, HubError};
use crate::state::{now_rfc3339, AppState};
use app::contract::{CameraShot, Payload, RandomNumber, Room, RoomState, Temperature};
use rand::Rng;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::time::MissedTickBehavior;

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

/// Starts every background producer the configuration asks for.
pub fn spawn_all(state: &AppState) {
    tokio::spawn(temperature_sensor(state.clone()));
    tokio::spawn(front_door_camera(state.clone()));
    tokio::spawn(random_numbers(state.clone()));
    if state.config.simulator_enabled() {
        for room in Room::ALL {
            tokio::spawn(animate_room(state.clone(), room));
        }
    }
}

/// A background update in flight.
type Publish = Pin<Box<dyn Future<Output = Result<(), HubError>> + Send>>;

/// Publishes what `tick` makes every `period` until shutdown. An update that cannot be stored is logged and
/// skipped: the next one follows.
async fn every(state: &AppState, period: Duration, mut tick: impl FnMut(Hub) -> Publish) {
    let mut interval = tokio::time::interval(period.max(Duration::from_millis(10)));
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = interval.tick() => {
                if let Err(e) = tick(state.hub.clone()).await {
                    tracing::warn!(error = %e, "a background update was not stored");
                }
            }
        }
    }
}

async fn temperature_sensor(state: AppState) {
    let mut current = 21.0_f64;
    let period = Duration::from_millis(state.config.temperature_ms);
    every(&state, period, move |hub| {
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

async fn random_numbers(state: AppState) {
    let period = Duration::from_millis(state.config.random_ms);
    every(&state, period, move |hub| {
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
async fn front_door_camera(state: AppState) {
    every(&state, CAMERA_PERIOD, move |hub| {
        Box::pin(async move {
            hub.update(|snapshot| {
                let after_last = snapshot
                    .camera_shot()
                    .and_then(CameraShot::id)
                    .map_or(0, |id| id + 1);
                let id = (snapshot.seq + 1).max(after_last);
                Some(Payload::Camera(CameraShot::new(id, now_rfc3339())))
            })
            .await
            .map(drop)
        })
    })
    .await;
}

/// Sets each device of the room to a random state, as the tutorial's server did.
async fn animate_room(state: AppState, room: Room) {
    every(&state, room_period(room), move |hub| {
        Box::pin(async move {
            hub.update(|snapshot| {
                let mut rng = rand::rng();
                let mut next = snapshot
                    .rooms
                    .get(&room)
                    .cloned()
                    .unwrap_or_else(|| RoomState::initial(room, now_rfc3339()));
                for device in room.devices() {
                    let states = device.states();
                    next.devices
                        .insert(*device, states[rng.random_range(0..states.len())]);
                }
                next.updated_at = now_rfc3339();
                Some(Payload::Room(room, next))
            })
            .await
            .map(drop)
        })
    })
    .await;
}
