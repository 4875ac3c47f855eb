//! A card per room: each device as a switch (icon, name, state, the whole row to press) and when the room last
//! changed.
//!
//! A switch is optimistic: the new state shows at once, marked pending, the API is called, and the stream
//! reconciles: the pending mark goes once the room's state from the stream is at least as new as the change.
//! A refusal puts the old state back and says why under that very switch.

use super::clock::RelativeTime;
use super::icons::device_icon;
use crate::api::{self, ApiFailure};
use crate::contract::api::{paths, DeviceChanged, SetDevice};
use crate::contract::{Device, DeviceState, Room, Snapshot};
use leptos::prelude::*;
use std::collections::HashMap;

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

type Key = (Room, Device);

#[component]
pub fn RoomCards(state: RwSignal<Snapshot>, can_write: RwSignal<bool>) -> impl IntoView {
    let pending = RwSignal::new(HashMap::<Key, Pending>::new());
    let errors = RwSignal::new(HashMap::<Key, String>::new());
    Effect::new(move |_| state.with(|s| pending.update(|p| reconcile(p, s))));
    Room::ALL
        .into_iter()
        .map(|room| view! { <RoomCard room state pending can_write errors /> })
        .collect_view()
}

#[component]
fn RoomCard(
    room: Room,
    state: RwSignal<Snapshot>,
    pending: RwSignal<HashMap<Key, Pending>>,
    can_write: RwSignal<bool>,
    errors: RwSignal<HashMap<Key, String>>,
) -> impl IntoView {
    let name = room.name();
    let updated = Signal::derive(move || {
        state.with(|s| {
            s.rooms
                .get(&room)
                .map(|r| r.updated_at.clone())
                .unwrap_or_default()
        })
    });
    let devices = room
        .devices()
        .iter()
        .map(|&device| view! { <DeviceSwitch room device state pending can_write errors /> })
        .collect_view();
    view! {
        <section class="card room" data-testid=format!("room-{name}") aria-labelledby=format!("room-{name}-title")>
            <div class="card-head">
                <h2 id=format!("room-{name}-title")>{room.label()}</h2>
                <p class="muted updated">
                    "Updated " <RelativeTime at=updated testid=format!("room-{name}-updated") />
                </p>
            </div>
            <ul class="devices">{devices}</ul>
        </section>
    }
}

#[component]
fn DeviceSwitch(
    room: Room,
    device: Device,
    state: RwSignal<Snapshot>,
    pending: RwSignal<HashMap<Key, Pending>>,
    can_write: RwSignal<bool>,
    errors: RwSignal<HashMap<Key, String>>,
) -> impl IntoView {
    let key = (room, device);
    let ids = format!("{}-{}", room.name(), device.name());
    let current = move || {
        pending.with(|p| p.get(&key).map(|p| p.state)).or_else(|| {
            state.with(|s| {
                s.rooms
                    .get(&room)
                    .and_then(|r| r.devices.get(&device))
                    .copied()
            })
        })
    };
    let is_on = move || current().is_some_and(|s| s == device.states()[1]);
    let is_pending = move || pending.with(|p| p.contains_key(&key));
    let error = move || errors.with(|e| e.get(&key).cloned());
    let toggle = move |_| {
        let next = device.toggled(current().unwrap_or(device.states()[0]));
        pending.update(|p| {
            p.insert(
                key,
                Pending {
                    state: next,
                    confirmed_at: None,
                },
            );
        });
        errors.update(|e| {
            e.remove(&key);
        });
        leptos::task::spawn_local(async move {
            let url = paths::device(room, device);
            let result: Result<DeviceChanged, ApiFailure> =
                api::post_json(&url, &SetDevice { state: next }).await;
            match result {
                Ok(changed) => pending.update(|p| {
                    if let Some(entry) = p.get_mut(&key) {
                        entry.confirmed_at = Some(changed.state.updated_at);
                    }
                }),
                Err(e) => {
                    pending.update(|p| {
                        p.remove(&key);
                    });
                    errors.update(|m| {
                        m.insert(key, format!("Not changed: {e}"));
                    });
                }
            }
            state.with_untracked(|s| pending.update(|p| reconcile(p, s)));
        });
    };
    let label = format!("{} {}", room.label(), device.name());
    let error_id = format!("device-error-{ids}");
    view! {
        <li class="device">
            <button
                type="button"
                role="switch"
                class="switch-row"
                class:on=is_on
                class:pending=is_pending
                data-testid=format!("toggle-{ids}")
                aria-checked=move || if is_on() { "true" } else { "false" }
                aria-busy=move || if is_pending() { "true" } else { "false" }
                aria-label=label
                aria-describedby=error_id.clone()
                on:click=toggle
                disabled=move || !can_write.get()
                title=move || if can_write.get() { "" } else { "Log in to change devices" }
            >
                <span class="device-icon">{device_icon(device, current)}</span>
                <span class="device-name">{device.label()}</span>
                <span class="device-state" data-testid=format!("device-{ids}")>
                    {move || current().map(|s| s.name()).unwrap_or("unknown")}
                </span>
                <span class="pending-note" data-testid=format!("pending-{ids}") hidden=move || !is_pending()>
                    "sending…"
                </span>
                <span class="track" aria-hidden="true">
                    <span class="knob"></span>
                </span>
            </button>
            <p class="device-error" id=error_id data-testid=format!("device-error-{ids}") role="alert">
                {move || error().unwrap_or_default()}
            </p>
        </li>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::RoomState;

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
