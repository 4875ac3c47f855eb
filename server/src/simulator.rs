//! Background producers: the sensors (living-room temperature every 5 s, the tutorial's random number every
//! second, a front-door camera snapshot every 30 s) and the demo simulator that animates the rooms (every 1000 / 1800 / 2600 ms, as in the tutorial), so a
//! fresh start is alive. The simulator can be switched off (`--no-simulator`); the sensors always run, because
//! their routes promise a reading at that rate. Every task ends on shutdown.

use crate::clock::now_rfc3339;
use crate::config::Config;
use crate::hub::{Hub, HubError};
use app::contract::{CameraShot, Payload, RandomNumber, Room, RoomState, Temperature};
use rand::Rng;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

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

/// Starts every background producer the configuration asks for; each ends on `shutdown`.
pub fn spawn_all(hub: &Hub, config: &Config, shutdown: &CancellationToken) {
    let temperature = Duration::from_millis(config.temperature_ms);
    tokio::spawn(temperature_sensor(
        hub.clone(),
        temperature,
        shutdown.clone(),
    ));
    tokio::spawn(front_door_camera(hub.clone(), shutdown.clone()));
    let random = Duration::from_millis(config.random_ms);
    tokio::spawn(random_numbers(hub.clone(), random, shutdown.clone()));
    if config.simulator {
        for room in Room::ALL {
            tokio::spawn(animate_room(hub.clone(), room, shutdown.clone()));
        }
    }
}

/// A background update in flight.
type Publish = Pin<Box<dyn Future<Output = Result<(), HubError>> + Send>>;

/// Publishes what `tick` makes every `period` until shutdown. An update that cannot be stored is logged and
/// skipped: the next one follows.
async fn every(
    hub: Hub,
    period: Duration,
    shutdown: CancellationToken,
    mut tick: impl FnMut(Hub) -> Publish,
) {
    let mut interval = tokio::time::interval(period.max(Duration::from_millis(10)));
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = interval.tick() => {
                if let Err(e) = tick(hub.clone()).await {
                    tracing::warn!(error = %e, "a background update was not stored");
                }
            }
        }
    }
}

async fn temperature_sensor(hub: Hub, period: Duration, shutdown: CancellationToken) {
    let mut current = 21.0_f64;
    every(hub, period, shutdown, move |hub| {
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
    every(hub, period, shutdown, move |hub| {
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
async fn front_door_camera(hub: Hub, shutdown: CancellationToken) {
    every(hub, CAMERA_PERIOD, shutdown, move |hub| {
        let shot = CameraShot::new(0, now_rfc3339());
        Box::pin(async move { hub.publish(Payload::Camera(shot)).await.map(drop) })
    })
    .await;
}

/// Sets each device of the room to a random state, as the tutorial's server did.
async fn animate_room(hub: Hub, room: Room, shutdown: CancellationToken) {
    every(hub, room_period(room), shutdown, move |hub| {
        Box::pin(async move {
            hub.update(move |snapshot| {
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
