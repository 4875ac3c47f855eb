//! The home: a card per area, each entity drawn as what it is — a light, switch or cover as a switch (icon,
//! name, state, the whole row to press), a sensor as its reading with its unit and its last half hour, a binary
//! sensor as what it detects ("open", "motion") — and when the area last changed.
//!
//! A switch shows the request at once, marked as sending, and calls the API. Then it follows the server: a
//! device that confirms its state shows the request as pending (`entity.pending`) until it does or the command
//! times out, and the state is always what the device last said. The local mark goes once the stream has caught
//! up with the event the answer named (the snapshot's `seq` reached the answer's `seq`). A refusal says why
//! under that very switch. An entity whose device is offline is shown so, its switch disabled; one that comes
//! through a broker Hearth cannot reach is shown as possibly out of date. In edit mode every row is also the
//! form that renames and moves its entity (`entity_edit`).

use super::clock::RelativeTime;
use super::entity_edit::{EditBar, EditState, EntityEditor, AREA_NAMES_LIST};
use super::icons::{entity_icon, IconFor};
use super::trend::Trend;
use crate::contract::api::{paths, SetEntity, WrittenAs};
use crate::contract::{AreaId, Entity, EntityId, EntityKind, Requested, Seq, Snapshot};
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

/// An area as the page lays it out: which card, its name, and its entities in order.
#[derive(Debug, Clone, PartialEq)]
struct AreaLayout {
    id: AreaId,
    name: String,
    entities: Vec<EntityId>,
}

/// The home's areas in order with their entities: what decides which cards and rows exist.
fn layout_of(snapshot: &Snapshot) -> Vec<AreaLayout> {
    snapshot
        .areas()
        .into_iter()
        .map(|area| AreaLayout {
            id: area.id.clone(),
            name: area.name.to_owned(),
            entities: area.entities.iter().map(|e| e.id.clone()).collect(),
        })
        .collect()
}

/// The home section: the edit bar, a card per area, the list of area names the edit forms suggest, and a word
/// for a home with nothing in it yet.
#[component]
pub fn AreaCards(state: RwSignal<Snapshot>, can_write: RwSignal<bool>) -> impl IntoView {
    let sending = RwSignal::new(HashMap::<EntityId, Sending>::new());
    let errors = RwSignal::new(HashMap::<EntityId, String>::new());
    let edit = EditState::new();
    Effect::new(move |_| {
        state.with(|s| {
            sending.update(|p| reconcile(p, s));
            edit.catch_up(s);
        })
    });
    let editing = Memo::new(move |_| edit.on.get() && can_write.get());
    // Which cards and rows exist changes rarely; each row follows its own entity. Cards are keyed by area and
    // rows by entity, so a rename only reorders a card and a move only moves one row.
    let layout = Memo::new(move |_| state.with(layout_of));
    let area_ids = move || layout.with(|l| l.iter().map(|a| a.id.clone()).collect::<Vec<_>>());
    let rows = RowContext {
        state,
        sending,
        can_write,
        errors,
        editing,
        edit,
    };
    view! {
        <EditBar edit can_write editing />
        <datalist id=AREA_NAMES_LIST>
            {move || {
                layout
                    .with(|l| l.iter().map(|a| a.name.clone()).collect::<Vec<_>>())
                    .into_iter()
                    .map(|name| view! { <option value=name></option> })
                    .collect_view()
            }}
        </datalist>
        <div class="grid rooms" class:editing=move || editing.get()>
            <For
                each=area_ids
                key=AreaId::clone
                children=move |id| view! { <AreaCard id layout rows /> }
            />
            <p class="muted empty-home" hidden=move || !layout.with(Vec::is_empty)>
                "No devices yet. Point Hearth at your MQTT broker (--mqtt-url) and they appear here as they announce themselves."
            </p>
        </div>
    }
}

/// What every row of the home needs.
#[derive(Clone, Copy)]
struct RowContext {
    state: RwSignal<Snapshot>,
    sending: RwSignal<HashMap<EntityId, Sending>>,
    can_write: RwSignal<bool>,
    errors: RwSignal<HashMap<EntityId, String>>,
    /// Edit mode is on (and the browser may write).
    editing: Memo<bool>,
    edit: EditState,
}

#[component]
fn AreaCard(id: AreaId, layout: Memo<Vec<AreaLayout>>, rows: RowContext) -> impl IntoView {
    let state = rows.state;
    let key = id.clone();
    let this = Memo::new(move |_| layout.with(|l| l.iter().find(|a| a.id == key).cloned()));
    let name = move || this.with(|a| a.as_ref().map(|a| a.name.clone()).unwrap_or_default());
    let members = Memo::new(move |_| this.with(|a| a.as_ref().map(|a| a.entities.clone())));
    let updated = Signal::derive(move || {
        members.with(|ids| {
            state.with(|s| {
                ids.iter()
                    .flatten()
                    .filter_map(|id| s.entity(id))
                    .map(|e| e.changed_at.clone())
                    .max()
                    .unwrap_or_default()
            })
        })
    });
    let id = id.to_string();
    view! {
        <section class="card room" data-testid=format!("room-{id}") aria-labelledby=format!("room-{id}-title")>
            <div class="card-head">
                <h2 id=format!("room-{id}-title")>{name}</h2>
                <p class="muted updated">
                    "Updated " <RelativeTime at=updated testid=format!("room-{id}-updated") />
                </p>
            </div>
            <ul class="devices">
                <For
                    each=move || members.get().unwrap_or_default()
                    key=EntityId::clone
                    children=move |entity| view! { <EntityRow id=entity rows /> }
                />
            </ul>
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
    let available = Memo::new(move |_| entity.with(|e| e.as_ref().is_some_and(|e| e.available)));
    // The kind never changes under one id within a render; a device that changed kind is a new row.
    let icon = entity.with_untracked(|e| {
        e.as_ref().map(|e| IconFor {
            kind: e.kind,
            device_class: e.device_class.clone(),
        })
    })?;
    let (class, body) = match icon.kind {
        EntityKind::Sensor => (
            "device sensor",
            view! { <SensorRow id=id.clone() entity stale state icon=icon.clone() /> }.into_any(),
        ),
        EntityKind::BinarySensor => (
            "device binary",
            view! { <BinaryRow id=id.clone() entity stale icon=icon.clone() /> }.into_any(),
        ),
        _ => (
            "device switch",
            view! { <SwitchRow id=id.clone() entity stale available rows icon=icon.clone() /> }
                .into_any(),
        ),
    };
    let editing = rows.editing;
    let editor = move || {
        editing.get().then(|| {
            view! {
                <EntityEditor id=id.clone() entity state edit=rows.edit icon=icon.clone() />
            }
        })
    };
    Some(view! {
        <li
            class=class
            class:unavailable=move || !available.get()
            class:stale=move || stale.get()
            class:editing=move || editing.get()
        >
            {body}
            {editor}
        </li>
    })
}

/// Why a row may not show the truth: its device is offline, or the broker it talks through cannot be reached.
fn availability_text(offline: bool, stale: bool) -> &'static str {
    if offline {
        "offline"
    } else if stale {
        "may be out of date: the MQTT broker cannot be reached"
    } else {
        ""
    }
}

/// The line under a row's name saying why it may not show the truth.
fn availability_note(entity: Memo<Option<Entity>>, stale: Memo<bool>) -> impl IntoView {
    let offline = move || entity.with(|e| e.as_ref().is_some_and(|e| !e.available));
    let text = move || availability_text(offline(), stale.get());
    view! {
        <span class="availability" class:offline=offline hidden=move || text().is_empty()>
            {text}
        </span>
    }
}

#[component]
fn SwitchRow(
    id: EntityId,
    entity: Memo<Option<Entity>>,
    stale: Memo<bool>,
    available: Memo<bool>,
    rows: RowContext,
    icon: IconFor,
) -> impl IntoView {
    let RowContext {
        state,
        sending,
        can_write,
        errors,
        ..
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
            // The answer (`CommandAnswer`) says applied or sent; the stream says the same, so only its event id is
            // read here.
            let result: Result<WrittenAs, ApiFailure> = http::post_json(&url, &body).await;
            match result {
                Ok(WrittenAs { seq }) => sending.update(|s| {
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
    let pending_text = move || {
        if is_sending.get() {
            "sending…"
        } else {
            "waiting for the device…"
        }
    };
    let error_id = format!("device-error-{id}");
    view! {
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
            disabled=move || !can_write.get() || !available.get()
            title=move || {
                if !can_write.get() {
                    "Log in to change devices"
                } else if !available.get() {
                    "The device is offline"
                } else {
                    ""
                }
            }
        >
            <span class="device-icon">{entity_icon(icon, is_on)}</span>
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
    }
}

#[component]
fn SensorRow(
    id: EntityId,
    entity: Memo<Option<Entity>>,
    stale: Memo<bool>,
    state: RwSignal<Snapshot>,
    icon: IconFor,
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
    view! {
        <div class="reading-row">
            <span class="device-icon">{entity_icon(icon, || false)}</span>
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
    }
}

#[component]
fn BinaryRow(
    id: EntityId,
    entity: Memo<Option<Entity>>,
    stale: Memo<bool>,
    icon: IconFor,
) -> impl IntoView {
    let name = move || entity.with(|e| e.as_ref().map(|e| e.name.clone()).unwrap_or_default());
    let text = move || {
        entity.with(|e| {
            e.as_ref()
                .map(|e| e.state_text().to_owned())
                .unwrap_or_default()
        })
    };
    let is_on = move || reads_on(&text());
    view! {
        <div class="reading-row" class:on=is_on>
            <span class="device-icon">{entity_icon(icon, is_on)}</span>
            <span class="device-text">
                <span class="device-name">{name}</span>
                {availability_note(entity, stale)}
            </span>
            <span class="device-state" data-testid=format!("device-{id}")>{text}</span>
        </div>
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

    /// An entity of the home, in an area of its own name, as a device would announce it.
    fn entity(id: &str, kind: EntityKind, area: &str, state: &str, at: &str) -> Entity {
        let mut entity = lights(DeviceState::Off);
        entity.id = EntityId::parse(id).unwrap();
        entity.name = id.to_owned();
        entity.kind = kind;
        entity.area = crate::contract::AreaId::from_text(area).unwrap();
        entity.area_name = area.to_owned();
        entity.state = state.to_owned();
        entity.source = crate::contract::Source::Mqtt;
        entity.changed_at = at.to_owned();
        entity
    }

    /// The element with this test id, as the server renders it (up to its end tag).
    fn element<'a>(html: &'a str, testid: &str) -> &'a str {
        let at = html
            .find(&format!(r#"data-testid="{testid}""#))
            .unwrap_or_else(|| panic!("no {testid} in {html}"));
        let start = html[..at].rfind('<').unwrap();
        let end = html[at..].find("</").map_or(html.len(), |e| at + e);
        &html[start..end]
    }

    #[test]
    fn the_server_draws_each_kind_as_what_it_is() {
        let mut snap = Snapshot::default();
        let mut power = entity(
            "power",
            EntityKind::Sensor,
            "Study",
            "41",
            "2026-01-01T10:00:00Z",
        );
        power.unit = Some("W".into());
        snap.apply(Some(1), &Payload::Entity(power.clone()));
        power.state = "42.5".into();
        power.changed_at = "2026-01-01T10:05:00Z".into();
        snap.apply(Some(2), &Payload::Entity(power));
        let mut door = entity(
            "door",
            EntityKind::BinarySensor,
            "Hall",
            "on",
            "2026-01-01T10:00:00Z",
        );
        door.device_class = Some("door".into());
        snap.apply(Some(3), &Payload::Entity(door));
        let mut lamp = entity(
            "lamp",
            EntityKind::Light,
            "Study",
            "on",
            "2026-01-01T10:00:00Z",
        );
        lamp.available = false;
        snap.apply(Some(4), &Payload::Entity(lamp));

        let owner = Owner::new();
        let html = owner.with(|| {
            let state = RwSignal::new(snap);
            let can_write = RwSignal::new(true);
            view! { <AreaCards state can_write /> }
                .into_view()
                .to_html()
        });

        // A sensor: its value with its unit, when it changed, its trend as a line of its two readings.
        assert!(element(&html, "device-power").ends_with(">42.5"), "{html}");
        assert!(element(&html, "unit-power").ends_with(">W"), "{html}");
        assert!(element(&html, "changed-power").contains(r#"datetime="2026-01-01T10:05:00Z""#));
        let trend = element(&html, "trend-power");
        assert!(
            trend.contains(r#"data-points="2""#) && trend.contains(r#"d="M"#),
            "{trend}"
        );
        // A door reads open, not on.
        assert!(element(&html, "device-door").ends_with(">open"), "{html}");
        // An offline lamp says so and its switch is disabled, even for a browser that may write.
        let toggle = element(&html, "toggle-lamp");
        assert!(toggle.contains("disabled"), "{toggle}");
        assert!(html.contains(">offline<"), "{html}");
        // Areas by name, each with its own card; the home is not empty.
        let (hall, study) = (
            html.find("room-hall").unwrap(),
            html.find("room-study").unwrap(),
        );
        assert!(hall < study);
        assert!(element(&html, "edit-home").contains("Edit home"));
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
