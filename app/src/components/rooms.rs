//! A card per room: each device's state and when the room last changed.

use crate::contract::{Room, Snapshot};
use leptos::prelude::*;

/// `HH:MM:SS` out of an RFC 3339 timestamp, for a compact "updated at"; the full value goes in `datetime`.
pub fn clock_time(rfc3339: &str) -> &str {
    rfc3339.get(11..19).unwrap_or(rfc3339)
}

#[component]
pub fn RoomCards(state: RwSignal<Snapshot>) -> impl IntoView {
    Room::ALL
        .into_iter()
        .map(|room| view! { <RoomCard room state /> })
        .collect_view()
}

#[component]
fn RoomCard(room: Room, state: RwSignal<Snapshot>) -> impl IntoView {
    let name = room.name();
    let updated = move || {
        state.with(|s| s.rooms.get(&room).map(|r| r.updated_at.clone()).unwrap_or_default())
    };
    let devices = room
        .devices()
        .iter()
        .map(|&device| {
            let value = move || {
                state.with(|s| {
                    s.rooms
                        .get(&room)
                        .and_then(|r| r.devices.get(&device))
                        .map(|d| d.name())
                        .unwrap_or("unknown")
                })
            };
            view! {
                <li class="device">
                    <span class="device-name">{device.label()}</span>
                    <span
                        class="device-state"
                        data-testid=format!("device-{name}-{}", device.name())
                        aria-live="polite"
                    >
                        {value}
                    </span>
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

    #[test]
    fn clock_time_takes_the_time_of_day() {
        assert_eq!(clock_time("2026-11-21T10:04:05.123Z"), "10:04:05");
        assert_eq!(clock_time("short"), "short");
    }
}
