//! A card per room: each device's state, a toggle for it, and when the room last changed.
//!
//! A toggle is optimistic: the new state shows at once, the API is called, and the stream reconciles — the
//! override goes away once the room's state from the stream is at least as new as the change, or at once if
//! the server refused it (the old state comes back with the reason).

use crate::api::{self, ApiFailure};
use crate::contract::api::{paths, DeviceChanged, SetDevice};
use crate::contract::{Device, DeviceState, Room, Snapshot};
use leptos::prelude::*;
use std::collections::HashMap;

/// `HH:MM:SS` out of an RFC 3339 timestamp, for a compact "updated at"; the full value goes in `datetime`.
pub fn clock_time(rfc3339: &str) -> &str {
    rfc3339.get(11..19).unwrap_or(rfc3339)
}

/// A device state shown before the stream confirms it.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub state: DeviceState,
    /// The room's `updatedAt` the server answered with; `None` while the request is in flight.
    pub confirmed_at: Option<String>,
}

/// Drops the overrides the stream has caught up with.
pub fn reconcile(pending: &mut HashMap<(Room, Device), Pending>, snapshot: &Snapshot) {
    pending.retain(|(room, _), p| {
        let Some(at) = &p.confirmed_at else {
            return true;
        };
        snapshot
            .rooms
            .get(room)
            .is_none_or(|r| r.updated_at.as_str() < at.as_str())
    });
}

#[component]
pub fn RoomCards(state: RwSignal<Snapshot>, can_write: RwSignal<bool>) -> impl IntoView {
    let pending = RwSignal::new(HashMap::<(Room, Device), Pending>::new());
    let error = RwSignal::new(None::<String>);
    Effect::new(move |_| state.with(|s| pending.update(|p| reconcile(p, s))));
    let cards = Room::ALL
        .into_iter()
        .map(|room| view! { <RoomCard room state pending can_write error /> })
        .collect_view();
    view! {
        {cards}
        <p class="form-error rooms-error" role="alert" hidden=move || error.with(Option::is_none)>
            {move || error.get().unwrap_or_default()}
        </p>
    }
}

#[component]
fn RoomCard(
    room: Room,
    state: RwSignal<Snapshot>,
    pending: RwSignal<HashMap<(Room, Device), Pending>>,
    can_write: RwSignal<bool>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let name = room.name();
    let updated = move || {
        state.with(|s| {
            s.rooms
                .get(&room)
                .map(|r| r.updated_at.clone())
                .unwrap_or_default()
        })
    };
    let devices = room
        .devices()
        .iter()
        .map(|&device| {
            let current = move || {
                pending
                    .with(|p| p.get(&(room, device)).map(|p| p.state))
                    .or_else(|| {
                        state.with(|s| {
                            s.rooms
                                .get(&room)
                                .and_then(|r| r.devices.get(&device))
                                .copied()
                        })
                    })
            };
            let toggle = move |_| {
                let next = device.toggled(current().unwrap_or(device.states()[0]));
                pending.update(|p| {
                    p.insert(
                        (room, device),
                        Pending {
                            state: next,
                            confirmed_at: None,
                        },
                    );
                });
                error.set(None);
                leptos::task::spawn_local(async move {
                    let url = paths::device(room, device);
                    let result: Result<DeviceChanged, ApiFailure> =
                        api::post_json(&url, &SetDevice { state: next }).await;
                    match result {
                        Ok(changed) => pending.update(|p| {
                            if let Some(entry) = p.get_mut(&(room, device)) {
                                entry.confirmed_at = Some(changed.state.updated_at);
                            }
                        }),
                        Err(e) => {
                            pending.update(|p| {
                                p.remove(&(room, device));
                            });
                            error.set(Some(format!(
                                "Could not change {} {}: {e}",
                                room.label(),
                                device.name()
                            )));
                        }
                    }
                    state.with_untracked(|s| pending.update(|p| reconcile(p, s)));
                });
            };
            let label = format!("Toggle {} {}", room.label().to_lowercase(), device.name());
            view! {
                <li class="device">
                    <span class="device-name">{device.label()}</span>
                    <span
                        class="device-state"
                        data-testid=format!("device-{name}-{}", device.name())
                        aria-live="polite"
                    >
                        {move || current().map(|s| s.name()).unwrap_or("unknown")}
                    </span>
                    <button
                        type="button"
                        data-testid=format!("toggle-{name}-{}", device.name())
                        aria-label=label
                        on:click=toggle
                        disabled=move || !can_write.get()
                        title=move || if can_write.get() { "" } else { "Log in to change devices" }
                    >
                        "Toggle"
                    </button>
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="card room" data-testid=format!("room-{name}") aria-labelledby=format!("room-{name}-title")>
            <h2 id=format!("room-{name}-title")>{room.label()}</h2>
            <ul class="devices">{devices}</ul>
            <p class="updated">
                "Updated "
                <time data-testid=format!("room-{name}-updated") datetime=updated>
                    {move || clock_time(&updated()).to_owned()}
                </time>
            </p>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::RoomState;

    #[test]
    fn clock_time_takes_the_time_of_day() {
        assert_eq!(clock_time("2026-11-21T10:04:05.123Z"), "10:04:05");
        assert_eq!(clock_time("short"), "short");
    }

    #[test]
    fn overrides_stay_until_the_stream_catches_up() {
        let mut snapshot = Snapshot::default();
        snapshot.rooms.insert(
            Room::Kitchen,
            RoomState::initial(Room::Kitchen, "2026-01-01T00:00:01.000Z".into()),
        );
        let mut pending = HashMap::new();
        let key = (Room::Kitchen, Device::Lights);
        pending.insert(
            key,
            Pending {
                state: DeviceState::On,
                confirmed_at: None,
            },
        );
        reconcile(&mut pending, &snapshot);
        assert!(pending.contains_key(&key), "in flight: keep");
        pending.insert(
            key,
            Pending {
                state: DeviceState::On,
                confirmed_at: Some("2026-01-01T00:00:02.000Z".into()),
            },
        );
        reconcile(&mut pending, &snapshot);
        assert!(pending.contains_key(&key), "stream not there yet: keep");
        snapshot.rooms.insert(
            Room::Kitchen,
            RoomState::initial(Room::Kitchen, "2026-01-01T00:00:02.000Z".into()),
        );
        reconcile(&mut pending, &snapshot);
        assert!(pending.is_empty(), "stream caught up: drop");
    }
}
