//! The dashboard page: one `/events` stream folded into one [`Snapshot`] signal that every widget reads.
//!
//! The home comes first: the rooms lead, then the living-room temperature and the front door, then the message
//! feed and jobs; the login and the viewer count sit in the header.

use super::areas::AreaCards;
use super::camera::CameraCard;
use super::header::Header;
use super::jobs::JobRunner;
use super::login::{use_session, ReadOnlyNote};
use super::messages::MessageFeed;
use super::temperature::TemperatureCard;
use crate::contract::api::paths;
use crate::contract::{DecodeError, Payload, Snapshot, RESET_EVENT, SNAPSHOT_EVENT};
use crate::hooks::{use_event_source, ReadyState, SseMessage, UseEventSourceOptions};
use leptos::prelude::*;
use leptos_meta::Title;
use std::time::Duration;

/// The name of the heartbeat event `/events` sends between real events; it only proves the stream is alive.
pub const PING_EVENT: &str = "ping";
/// Three missed heartbeats (sent every 15 s) mean the stream is dead even if the browser thinks it is open.
const STALE_AFTER: Duration = Duration::from_secs(45);

/// Folds one received event into the dashboard state: a snapshot or reset replaces it, a topic event is applied
/// through the shared reducer, a heartbeat changes nothing. An ephemeral topic's event carries no id of its own
/// (the stream's last id is an earlier event's), so it is folded in without one.
pub fn fold_event(state: &mut Snapshot, message: &SseMessage) -> Result<(), DecodeError> {
    match message.event.as_str() {
        SNAPSHOT_EVENT | RESET_EVENT => {
            *state = serde_json::from_str(&message.data).map_err(|e| DecodeError::BadSnapshot {
                event: message.event.clone(),
                reason: e.to_string(),
            })?;
        }
        PING_EVENT => {}
        name => {
            let payload = Payload::decode_named(name, &message.data)?;
            let id = if payload.topic().is_ephemeral() {
                None
            } else {
                message.last_event_id.parse().ok()
            };
            state.apply(id, &payload);
        }
    }
    Ok(())
}

/// Every event name the dashboard's stream may carry: each payload's, the snapshot's, the reset's and the
/// heartbeat's.
pub fn event_names() -> Vec<String> {
    Payload::EVENT_NAMES
        .into_iter()
        .chain([SNAPSHOT_EVENT, RESET_EVENT, PING_EVENT])
        .map(str::to_owned)
        .collect()
}

#[component]
pub fn Dashboard(initial: Snapshot) -> impl IntoView {
    let viewers = initial.viewers;
    let rendered_at = initial.seq;
    let state = RwSignal::new(initial);
    let can_write = use_session();
    let decode_error = RwSignal::new(None::<String>);
    let sse = use_event_source(
        paths::EVENTS,
        UseEventSourceOptions::default()
            .events(event_names())
            .stale_after(STALE_AFTER)
            // One stream per browser, however many tabs; the page already shows the state as of `rendered_at`.
            .share_across_tabs(true)
            .resume_from(rendered_at)
            .on_message(move |message| {
                let mut result = Ok(());
                state.update(|s| result = fold_event(s, message));
                if let Err(e) = result {
                    decode_error.set(Some(e.to_string()));
                }
            }),
    );
    // Only a connection that was up and went away makes the page say it may be out of date; the first connect
    // is what every page load does, and the badge already says "connecting".
    let lost = Signal::derive(move || {
        matches!(
            sse.ready_state.get(),
            ReadyState::Reconnecting { .. } | ReadyState::Closed
        )
    });

    view! {
        <Title text="Hearth" />
        <Header state=sse.ready_state viewers />
        <main class="page dashboard" class:stale=lost>
            <h1 class="sr-only">"Home"</h1>
            <ReadOnlyNote />
            <p class="stale-note" role="status" hidden=move || !lost.get()>
                "Not live: what you see may be out of date. Reconnecting by itself."
            </p>
            <AreaCards state can_write />
            <div class="grid">
                <TemperatureCard state />
                <CameraCard state />
                <MessageFeed state can_write />
                <JobRunner can_write />
            </div>
            <p class="decode-error" role="alert" hidden=move || decode_error.with(Option::is_none)>
                {move || decode_error.get().unwrap_or_default()}
            </p>
        </main>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{Device, DeviceState, Room};

    fn msg(event: &str, data: &str, id: &str) -> SseMessage {
        SseMessage {
            event: event.into(),
            data: data.into(),
            last_event_id: id.into(),
        }
    }

    #[test]
    fn events_fold_into_the_snapshot_and_bad_ones_are_errors() {
        let mut state = Snapshot::default();
        fold_event(&mut state, &msg("viewers", "4", "10")).unwrap();
        let lights = Room::Kitchen.entity(Device::Lights, DeviceState::On, "t".into());
        let data = serde_json::to_string(&lights).unwrap();
        fold_event(&mut state, &msg("entity", &data, "11")).unwrap();
        fold_event(&mut state, &msg(PING_EVENT, "1", "11")).unwrap();
        assert_eq!((state.viewers, state.seq), (4, 11));
        // A viewer count has no id of its own: the stream's last id is the kitchen's, and it still counts.
        fold_event(&mut state, &msg("viewers", "5", "11")).unwrap();
        assert_eq!((state.viewers, state.seq), (5, 11));
        assert_eq!(state.entity(&lights.id), Some(&lights));
        assert!(fold_event(&mut state, &msg("viewers", "many", "12")).is_err());
        assert!(fold_event(&mut state, &msg("garage", "{}", "12")).is_err());
    }

    #[test]
    fn a_reset_replaces_everything() {
        let mut state = Snapshot::default();
        fold_event(&mut state, &msg("viewers", "4", "10")).unwrap();
        let fresh = Snapshot {
            seq: 99,
            viewers: 1,
            ..Snapshot::default()
        };
        let data = serde_json::to_string(&fresh).unwrap();
        fold_event(&mut state, &msg(RESET_EVENT, &data, "99")).unwrap();
        assert_eq!(state, fresh);
        let err = fold_event(&mut state, &msg(SNAPSHOT_EVENT, "{", "100")).unwrap_err();
        assert!(err.to_string().contains("snapshot"), "{err}");
        assert!(!err.to_string().contains("message"), "{err}");
    }
}
