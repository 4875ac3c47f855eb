//! The home: a card per area, each entity drawn as what it is — a light, switch or cover as a switch (icon,
//! name, state, the whole row to press), a sensor as its reading with its unit and its last half hour, a binary
//! sensor as what it detects ("open", "motion") — and when the area last changed.
//!
//! A switch shows the request at once, marked as sending, and calls the API. Then it follows the server: a
//! device that confirms its state shows the request as pending (`entity.pending`) until it does or the command
//! times out, and the state is always what the device last said. The local mark goes once the stream has caught
//! up with the event the answer named (the snapshot's `seq` reached the answer's `seq`). A refusal says why
//! under that very switch. An entity whose device is offline is shown so, its switch disabled; one that comes
//! through a broker Hearth cannot reach is shown as possibly out of date.

use super::clock::RelativeTime;
use super::icons::{entity_icon, IconFor};
use super::trend::Trend;
use crate::contract::api::{paths, CommandAnswer, SetEntity};
use crate::contract::{Entity, EntityId, EntityKind, Requested, Seq, Snapshot};
use crate::http::{self, ApiFailure};
use leptos::prelude::*;
use std::collections::HashMap;

/// A request this page sent that the stream has not caught up with yet.
#[derive(Debug, Clone, PartialEq)]
pub struct Sending {
    pub requested: Requested,
    /// The event the server answered with; `None` while the request is in flight.
    pub answered: Option<Seq>,
}

/// Drops the local marks the stream has caught up with.
pub fn reconcile(sending: &mut HashMap<EntityId, Sending>, snapshot: &Snapshot) {
    sending.retain(|_, s| s.answered.is_none_or(|seq| snapshot.seq < seq));
}

/// The state an entity row shows: what this page is sending, else what the device was asked for and has not
/// confirmed, else what the device last said.
fn shown_state(entity: &Entity, sending: Option<&Sending>) -> String {
    if let Some(sending) = sending {
        return sending.requested.settled_state().to_owned();
    }
    match &entity.pending {
        Some(pending) => pending.clone(),
        None => entity.state_text().to_owned(),
    }
}

/// Whether a shown state reads as "on" (lit, open, detecting).
fn reads_on(state: &str) -> bool {
    matches!(
        state,
        "on" | "open" | "opening" | "motion" | "detected" | "wet" | "unlocked"
    )
}

#[component]
pub fn AreaCards(state: RwSignal<Snapshot>, can_write: RwSignal<bool>) -> impl IntoView {
    let sending = RwSignal::new(HashMap::<EntityId, Sending>::new());
    let errors = RwSignal::new(HashMap::<EntityId, String>::new());
    Effect::new(move |_| state.with(|s| sending.update(|p| reconcile(p, s))));
    // The list of areas and of their entities changes rarely; each row follows its own entity.
    let layout = Memo::new(move |_| {
        state.with(|s| {
            s.areas()
                .into_iter()
                .map(|area| {
                    let ids: Vec<EntityId> = area.entities.iter().map(|e| e.id.clone()).collect();
                    (area.id.clone(), area.name.to_owned(), ids)
                })
                .collect::<Vec<_>>()
        })
    });
    let rows = RowContext {
        state,
        sending,
        can_write,
        errors,
    };
    view! {
        <For
            each=move || layout.get()
            key=|(id, name, ids)| (id.clone(), name.clone(), ids.clone())
            children=move |(id, name, ids)| view! { <AreaCard id=id.to_string() name ids rows /> }
        />
        <p class="muted empty-home" hidden=move || !layout.with(Vec::is_empty)>
            "No devices yet. Point Hearth at your MQTT broker (--mqtt-url) and they appear here as they announce themselves."
        </p>
    }
}

/// What every row of the home needs.
#[derive(Clone, Copy)]
struct RowContext {
    state: RwSignal<Snapshot>,
    sending: RwSignal<HashMap<EntityId, Sending>>,
    can_write: RwSignal<bool>,
    errors: RwSignal<HashMap<EntityId, String>>,
}

#[component]
fn AreaCard(id: String, name: String, ids: Vec<EntityId>, rows: RowContext) -> impl IntoView {
    let state = rows.state;
    let members = ids.clone();
    let updated = Signal::derive(move || {
        state.with(|s| {
            members
                .iter()
                .filter_map(|id| s.entity(id))
                .map(|e| e.changed_at.clone())
                .max()
                .unwrap_or_default()
        })
    });
    let rows = ids
        .into_iter()
        .map(|entity| view! { <EntityRow id=entity rows /> })
        .collect_view();
    view! {
        <section class="card room" data-testid=format!("room-{id}") aria-labelledby=format!("room-{id}-title")>
            <div class="card-head">
                <h2 id=format!("room-{id}-title")>{name}</h2>
                <p class="muted updated">
                    "Updated " <RelativeTime at=updated testid=format!("room-{id}-updated") />
                </p>
            </div>
            <ul class="devices">{rows}</ul>
        </section>
    }
}

#[component]
fn EntityRow(id: EntityId, rows: RowContext) -> impl IntoView {
    let state = rows.state;
    let lookup = id.clone();
    let entity = Memo::new(move |_| state.with(|s| s.entity(&lookup).cloned()));
    let stale_id = id.clone();
    let stale =
        Memo::new(move |_| state.with(|s| s.entity(&stale_id).is_some_and(|e| s.is_stale(e))));
    // The kind never changes under one id within a render; a device that changed kind is a new row.
    let kind = entity.with_untracked(|e| e.as_ref().map(|e| e.kind));
    match kind {
        Some(EntityKind::Sensor) => view! { <SensorRow id entity stale state /> }.into_any(),
        Some(EntityKind::BinarySensor) => view! { <BinaryRow id entity stale /> }.into_any(),
        Some(_) => view! { <SwitchRow id entity stale rows /> }.into_any(),
        None => ().into_any(),
    }
}

/// The line under a row saying why it may not show the truth.
fn availability_note(entity: Memo<Option<Entity>>, stale: Memo<bool>) -> impl IntoView {
    let text = move || {
        if entity.with(|e| e.as_ref().is_some_and(|e| !e.available)) {
            "offline"
        } else if stale.get() {
            "may be out of date: the MQTT broker cannot be reached"
        } else {
            ""
        }
    };
    view! { <span class="availability" hidden=move || text().is_empty()>{text}</span> }
}

#[component]
fn SwitchRow(
    id: EntityId,
    entity: Memo<Option<Entity>>,
    stale: Memo<bool>,
    rows: RowContext,
) -> impl IntoView {
    let RowContext {
        state,
        sending,
        can_write,
        errors,
    } = rows;
    let key = id.clone();
    let shown = Memo::new(move |_| {
        let local = sending.with(|s| s.get(&key).cloned());
        entity.with(|e| e.as_ref().map(|e| shown_state(e, local.as_ref())))
    });
    let is_on = move || shown.with(|s| s.as_deref().is_some_and(reads_on));
    let key = id.clone();
    let is_sending = Memo::new(move |_| sending.with(|s| s.contains_key(&key)));
    let is_pending = Memo::new(move |_| {
        is_sending.get() || entity.with(|e| e.as_ref().is_some_and(|e| e.pending.is_some()))
    });
    let available = move || entity.with(|e| e.as_ref().is_some_and(|e| e.available));
    let key = id.clone();
    let error = move || errors.with(|e| e.get(&key).cloned());
    let key = id.clone();
    let toggle = move |_| {
        let Some(next) = entity.with_untracked(|e| {
            e.as_ref().and_then(|e| {
                let mut shown_as = e.clone();
                if let Some(s) = shown.get_untracked() {
                    shown_as.state = s;
                }
                shown_as.toggled()
            })
        }) else {
            return;
        };
        let key = key.clone();
        sending.update(|s| {
            s.insert(
                key.clone(),
                Sending {
                    requested: next,
                    answered: None,
                },
            );
        });
        errors.update(|e| {
            e.remove(&key);
        });
        leptos::task::spawn_local(async move {
            let url = paths::entity(&key);
            let body = SetEntity {
                state: next.name().to_owned(),
            };
            let result: Result<CommandAnswer, ApiFailure> = http::post_json(&url, &body).await;
            match result {
                Ok(CommandAnswer::Applied { seq, .. } | CommandAnswer::Sent { seq, .. }) => sending
                    .update(|s| {
                        if let Some(entry) = s.get_mut(&key) {
                            entry.answered = Some(seq);
                        }
                    }),
                Err(e) => {
                    sending.update(|s| {
                        s.remove(&key);
                    });
                    errors.update(|m| {
                        m.insert(key.clone(), format!("Not changed: {e}"));
                    });
                }
            }
            state.with_untracked(|s| sending.update(|p| reconcile(p, s)));
        });
    };
    let name = move || entity.with(|e| e.as_ref().map(|e| e.name.clone()).unwrap_or_default());
    let icon_for = entity.with_untracked(|e| IconFor {
        kind: e.as_ref().map_or(EntityKind::Switch, |e| e.kind),
        device_class: e.as_ref().and_then(|e| e.device_class.clone()),
    });
    let pending_text = move || {
        if is_sending.get() {
            "sending…"
        } else {
            "waiting for the device…"
        }
    };
    let error_id = format!("device-error-{id}");
    view! {
        <li class="device" class:unavailable=move || !available() class:stale=move || stale.get()>
            <button
                type="button"
                role="switch"
                class="switch-row"
                class:on=is_on
                class:pending=is_pending
                data-testid=format!("toggle-{id}")
                aria-checked=move || if is_on() { "true" } else { "false" }
                aria-busy=move || if is_pending.get() { "true" } else { "false" }
                aria-label=name
                aria-describedby=error_id.clone()
                on:click=toggle
                disabled=move || !can_write.get() || !available()
                title=move || {
                    if !can_write.get() {
                        "Log in to change devices"
                    } else if !available() {
                        "The device is offline"
                    } else {
                        ""
                    }
                }
            >
                <span class="device-icon">{entity_icon(icon_for, is_on)}</span>
                <span class="device-text">
                    <span class="device-name">{name}</span>
                    {availability_note(entity, stale)}
                </span>
                <span class="device-state" data-testid=format!("device-{id}")>
                    {move || shown.get().unwrap_or_default()}
                </span>
                <span class="pending-note" data-testid=format!("pending-{id}") hidden=move || !is_pending.get()>
                    {pending_text}
                </span>
                <span class="track" aria-hidden="true">
                    <span class="knob"></span>
                </span>
            </button>
            <p class="device-error" id=error_id data-testid=format!("device-error-{id}") role="alert">
                {move || error().unwrap_or_default()}
            </p>
        </li>
    }
}

#[component]
fn SensorRow(
    id: EntityId,
    entity: Memo<Option<Entity>>,
    stale: Memo<bool>,
    state: RwSignal<Snapshot>,
) -> impl IntoView {
    let name = move || entity.with(|e| e.as_ref().map(|e| e.name.clone()).unwrap_or_default());
    let value = move || entity.with(|e| e.as_ref().map(|e| e.state.clone()).unwrap_or_default());
    let unit = move || entity.with(|e| e.as_ref().and_then(|e| e.unit.clone()).unwrap_or_default());
    let changed = Signal::derive(move || {
        entity.with(|e| e.as_ref().map(|e| e.changed_at.clone()).unwrap_or_default())
    });
    let trend_id = id.clone();
    let points =
        Memo::new(move |_| state.with(|s| s.trends.get(&trend_id).cloned().unwrap_or_default()));
    let available = move || entity.with(|e| e.as_ref().is_some_and(|e| e.available));
    let icon_for = entity.with_untracked(|e| IconFor {
        kind: EntityKind::Sensor,
        device_class: e.as_ref().and_then(|e| e.device_class.clone()),
    });
    view! {
        <li class="device sensor" class:unavailable=move || !available() class:stale=move || stale.get()>
            <div class="reading-row">
                <span class="device-icon">{entity_icon(icon_for, || false)}</span>
                <span class="device-text">
                    <span class="device-name">{name}</span>
                    <span class="muted changed">
                        "changed " <RelativeTime at=changed testid=format!("changed-{id}") />
                    </span>
                    {availability_note(entity, stale)}
                </span>
                <span class="reading">
                    <span class="device-state" data-testid=format!("device-{id}")>{value}</span>
                    <span class="unit" data-testid=format!("unit-{id}")>{unit}</span>
                </span>
            </div>
            <Trend points testid=format!("trend-{id}") />
        </li>
    }
}

#[component]
fn BinaryRow(id: EntityId, entity: Memo<Option<Entity>>, stale: Memo<bool>) -> impl IntoView {
    let name = move || entity.with(|e| e.as_ref().map(|e| e.name.clone()).unwrap_or_default());
    let text = move || {
        entity.with(|e| {
            e.as_ref()
                .map(|e| e.state_text().to_owned())
                .unwrap_or_default()
        })
    };
    let is_on = move || reads_on(&text());
    let available = move || entity.with(|e| e.as_ref().is_some_and(|e| e.available));
    let icon_for = entity.with_untracked(|e| IconFor {
        kind: EntityKind::BinarySensor,
        device_class: e.as_ref().and_then(|e| e.device_class.clone()),
    });
    view! {
        <li class="device binary" class:on=is_on class:unavailable=move || !available() class:stale=move || stale.get()>
            <div class="reading-row">
                <span class="device-icon">{entity_icon(icon_for, is_on)}</span>
                <span class="device-text">
                    <span class="device-name">{name}</span>
                    {availability_note(entity, stale)}
                </span>
                <span class="device-state" data-testid=format!("device-{id}")>{text}</span>
            </div>
        </li>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{Device, DeviceState, Payload, Room};

    fn lights(state: DeviceState) -> Entity {
        Room::Kitchen.entity(Device::Lights, state, "t".into())
    }

    #[test]
    fn a_local_mark_stays_until_the_stream_reaches_the_answer() {
        let mut snapshot = Snapshot {
            seq: 10,
            ..Snapshot::default()
        };
        let key = lights(DeviceState::Off).id;
        let mut sending = HashMap::new();
        sending.insert(
            key.clone(),
            Sending {
                requested: Requested::On,
                answered: None,
            },
        );
        reconcile(&mut sending, &snapshot);
        assert!(sending.contains_key(&key), "in flight: keep");
        sending.insert(
            key.clone(),
            Sending {
                requested: Requested::On,
                answered: Some(12),
            },
        );
        reconcile(&mut sending, &snapshot);
        assert!(sending.contains_key(&key), "stream not there yet: keep");
        snapshot.apply(Some(12), &Payload::Entity(lights(DeviceState::On)));
        reconcile(&mut sending, &snapshot);
        assert!(sending.is_empty(), "stream caught up: drop");
    }

    #[test]
    fn a_row_shows_what_is_sent_then_what_is_pending_then_what_the_device_said() {
        let mut entity = lights(DeviceState::Off);
        let sending = Sending {
            requested: Requested::On,
            answered: None,
        };
        assert_eq!(shown_state(&entity, Some(&sending)), "on");
        entity.pending = Some("on".into());
        assert_eq!(shown_state(&entity, None), "on");
        entity.pending = None;
        assert_eq!(shown_state(&entity, None), "off");
        let mut door = entity.clone();
        door.kind = EntityKind::BinarySensor;
        door.device_class = Some("door".into());
        door.state = "on".into();
        assert_eq!(shown_state(&door, None), "open");
        assert!(reads_on("open") && !reads_on("closed") && !reads_on("unknown"));
    }
}
