//! The SSE routes: the dashboard's multiplexed `/events`, and the tutorial routes at their original paths and
//! payload shapes (`/live-users`, `/smart-home`, `/temperatures`, `/stream-random-numbers`, `/eventstream`).
//!
//! Every stream resumes by `Last-Event-ID` (header, or `lastEventId` query parameter for clients that cannot set
//! headers); an id the hub cannot honour gets an explicit `reset` event with a fresh snapshot. A stream whose
//! topics are all live-only (random numbers, the viewer count) has nothing to resume: its id is not even shown
//! to the hub, so an old id (anyone can learn one) never makes the hub look through its history for it.
//!
//! A stream place kept for the owner goes to a request whose [`Credential`] is the token or a session; a token
//! offered for it is checked like any other (a wrong one is a failed attempt, throttled per client).

use super::smart_home;
use crate::auth::{ClientAddr, Credential, Reader};
use crate::error::ApiError;
use crate::hub::{Start, SubscribeRequest, Subscription};
use crate::slots::Refused;
use crate::state::AppState;
use crate::stream::{event_stream, sse_response, Naming, StreamPlan};
use app::contract::api::paths;
use app::contract::{Payload, Snapshot, Topic, TopicSet, RESET_EVENT, SNAPSHOT_EVENT};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use serde::Deserialize;
use sse::{comment, frame, retry};
use std::net::IpAddr;

/// Every fixed path of an event stream (jobs have their own, with the job's id in it).
pub const STREAM_PATHS: [&str; 6] = [
    paths::EVENTS,
    paths::LIVE_USERS,
    paths::SMART_HOME,
    paths::TEMPERATURES,
    paths::EVENTSTREAM,
    paths::RANDOM_NUMBERS,
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::EVENTS, get(events))
        .route(paths::LIVE_USERS, tutorial(LIVE_USERS))
        .route(paths::SMART_HOME, tutorial(SMART_HOME))
        .route(paths::TEMPERATURES, tutorial(TEMPERATURES))
        .route(paths::EVENTSTREAM, tutorial(EVENTSTREAM))
}

/// `/stream-random-numbers` is open to any origin, as in its tutorial; it is kept apart from the CORS allowlist.
pub fn open_routes() -> Router<AppState> {
    Router::new().route(paths::RANDOM_NUMBERS, get(random_numbers))
}

#[derive(Debug, Default, Deserialize)]
pub struct StreamQuery {
    topics: Option<String>,
    #[serde(rename = "lastEventId")]
    last_event_id: Option<String>,
}

/// How a stream introduces itself before live events.
#[derive(Clone, Copy)]
pub enum Intro {
    /// One `snapshot` event with the whole dashboard state (the multiplexed stream).
    Snapshot,
    /// The current value of each of the route's topics, as ordinary events (the tutorial routes).
    CurrentValues,
    /// Each demo room's state, as the tutorial's `/smart-home` sends it (see [`super::smart_home`]).
    DemoRooms,
    /// Nothing: the route only carries new events (random numbers, the message broadcast).
    Nothing,
}

/// What a route streams.
#[derive(Clone, Copy)]
pub struct StreamSpec {
    pub topics: TopicSet,
    pub naming: Naming,
    pub intro: Intro,
    /// Counts towards the live viewer count.
    pub viewer: bool,
}

/// The id a client resumes from: the `Last-Event-ID` header (what a browser sends on its own reconnect, so the
/// newest), else the `lastEventId` query parameter.
pub fn last_event_id<'a>(headers: &'a HeaderMap, query: Option<&'a str>) -> Option<&'a str> {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .or(query)
}

/// Opens a stream for `spec`; the shared path of every SSE route.
pub async fn open_stream(
    state: &AppState,
    client: Option<IpAddr>,
    credential: Credential,
    headers: &HeaderMap,
    query_last_id: Option<&str>,
    spec: StreamSpec,
    customize: impl FnOnce(&mut StreamPlan, Option<&Snapshot>),
) -> Result<Response, ApiError> {
    let slot = stream_slot(state, client, credential.is_privileged())?;
    let guards: Box<dyn Send + Sync> =
        Box::new((slot, spec.viewer.then(|| state.metrics.viewers.hold())));
    let live_only = spec.topics.iter().all(Topic::is_ephemeral);
    let Subscription { start, live } = state
        .hub
        .subscribe(SubscribeRequest {
            topics: spec.topics,
            last_event_id: last_event_id(headers, query_last_id).filter(|_| !live_only),
            state_stands_in: !matches!(spec.intro, Intro::Nothing),
        })
        .await;
    let mut intro = vec![retry(state.config.retry_ms)];
    let mut render = None;
    let (replay, starting_state) = match start {
        Start::Fresh(snapshot) => {
            intro.extend(introduction(&snapshot, &spec, false));
            (None, Some(snapshot))
        }
        Start::Reset(snapshot) => {
            intro.extend(introduction(&snapshot, &spec, true));
            (None, Some(snapshot))
        }
        Start::Resume(replay) => {
            // Ephemeral values (the viewer count) are never replayed: a resuming stream hears the current one.
            let now = state.hub.snapshot();
            intro.extend(ephemeral_values(&now, &spec));
            if matches!(spec.intro, Intro::DemoRooms) {
                render = Some(smart_home::render(&now));
            }
            (Some(replay), None)
        }
    };
    if let (Intro::DemoRooms, Some(snapshot)) = (spec.intro, &starting_state) {
        render = Some(smart_home::render(snapshot));
    }
    let keepalive = if matches!(spec.intro, Intro::Snapshot) {
        // Comments are invisible to `EventSource`; the dashboard also needs a heartbeat it can see, to tell a
        // quiet stream from a dead one. It carries no id, so it does not move the client's resume point.
        Bytes::from_static(b": keep-alive\n\nevent: ping\ndata: {}\n\n")
    } else {
        comment("keep-alive")
    };
    let mut plan = StreamPlan {
        topics: spec.topics,
        naming: spec.naming,
        intro,
        replay,
        live,
        filter: None,
        render,
        end_after: None,
        close_after_intro: false,
        keepalive,
        keepalive_every: state.config.keepalive(),
        // A child per stream: polling a token locks its node and its waiter list, and with 10,000 streams on
        // two workers polling the one shared token per delivery, that lock was contended (perf).
        shutdown: state.shutdown.child_token(),
        metrics: state.metrics.clone(),
        guards,
    };
    customize(&mut plan, starting_state.as_ref());
    Ok(sse_response(event_stream(plan)))
}

/// A place for one more stream from `client` (a `privileged` one, the owner's, may take a place kept for it),
/// or the refusal (503) every stream route answers.
pub fn stream_slot(
    state: &AppState,
    client: Option<IpAddr>,
    privileged: bool,
) -> Result<crate::slots::Slot, ApiError> {
    state.slots.take(client, privileged).map_err(|refused| {
        state.metrics.subscribers_refused.inc();
        match refused {
            Refused::Full => ApiError::too_many_streams(),
            Refused::ClientFull => ApiError::Unavailable {
                reason: "too many open streams from your address".to_owned(),
                retry_after: 5,
            },
        }
    })
}

/// The events that start a fresh (or reset) stream.
fn introduction(snapshot: &Snapshot, spec: &StreamSpec, reset: bool) -> Vec<Bytes> {
    let json = || serde_json::to_string(snapshot).unwrap_or_else(|_| "{}".to_owned());
    let mut out = Vec::new();
    match spec.intro {
        Intro::Snapshot => {
            let name = if reset { RESET_EVENT } else { SNAPSHOT_EVENT };
            out.push(frame(Some(snapshot.seq), Some(name), &json()));
        }
        Intro::CurrentValues | Intro::Nothing | Intro::DemoRooms => {
            if reset {
                out.push(frame(Some(snapshot.seq), Some(RESET_EVENT), &json()));
            }
            if matches!(spec.intro, Intro::DemoRooms) {
                out.extend(smart_home::rooms(snapshot));
            }
            if matches!(spec.intro, Intro::CurrentValues) {
                for payload in current_values(snapshot, spec.topics) {
                    let name = match spec.naming {
                        Naming::Unnamed => None,
                        Naming::Topic | Naming::Alt => Some(payload.topic().name()),
                    };
                    out.push(frame(Some(snapshot.seq), name, &payload.to_json()));
                }
            }
        }
    }
    out
}

/// The current value of each of the spec's ephemeral state topics, framed without an id (they have none).
fn ephemeral_values(snapshot: &Snapshot, spec: &StreamSpec) -> Vec<Bytes> {
    if matches!(spec.intro, Intro::Nothing | Intro::DemoRooms) {
        return Vec::new();
    }
    current_values(snapshot, spec.topics)
        .into_iter()
        .filter(|payload| payload.topic().is_ephemeral())
        .map(|payload| {
            let name = match spec.naming {
                Naming::Unnamed => None,
                Naming::Topic | Naming::Alt => Some(payload.topic().name()),
            };
            frame(None, name, &payload.to_json())
        })
        .collect()
}

/// The latest value of each topic, as the events that would have carried it.
pub fn current_values(snapshot: &Snapshot, topics: TopicSet) -> Vec<Payload> {
    topics
        .iter()
        .filter_map(|topic| match topic {
            Topic::Viewers => Some(Payload::Viewers(snapshot.viewers)),
            Topic::Temperature => snapshot.temperature().cloned().map(Payload::Temperature),
            Topic::Camera => snapshot.camera_shot().cloned().map(Payload::Camera),
            // The home's entities come whole in the snapshot; the tutorial's rooms in their own form.
            Topic::Entities | Topic::Random | Topic::Message | Topic::Job | Topic::Mercure => None,
        })
        .collect()
}

fn parse_query(
    query: Result<Query<StreamQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<StreamQuery, ApiError> {
    query
        .map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request(format!("bad query string: {e}"), None))
}

async fn events(
    State(state): State<AppState>,
    _reader: Reader,
    credential: Credential,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    query: Result<Query<StreamQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let query = parse_query(query)?;
    let topics = match query.topics.as_deref() {
        None => TopicSet::DASHBOARD,
        Some(list) => TopicSet::parse_list(list)
            .map_err(|e| ApiError::bad_request(e.to_string(), Some("topics")))?,
    };
    let spec = StreamSpec {
        topics,
        naming: Naming::Topic,
        intro: Intro::Snapshot,
        viewer: true,
    };
    open_stream(
        &state,
        client,
        credential,
        &headers,
        query.last_event_id.as_deref(),
        spec,
        |_, _| {},
    )
    .await
}

/// `/live-users`: the viewer count as plain `data: <count>`; it counts as a viewer itself.
const LIVE_USERS: StreamSpec = StreamSpec {
    topics: TopicSet::of(&[Topic::Viewers]),
    naming: Naming::Unnamed,
    intro: Intro::CurrentValues,
    viewer: true,
};
/// `/smart-home`: one named event per demo room, made from its devices' entity events.
const SMART_HOME: StreamSpec = StreamSpec {
    topics: TopicSet::of(&[Topic::Entities]),
    naming: Naming::Topic,
    intro: Intro::DemoRooms,
    viewer: false,
};
/// `/temperatures`: unnamed readings.
const TEMPERATURES: StreamSpec = StreamSpec {
    topics: TopicSet::of(&[Topic::Temperature]),
    naming: Naming::Unnamed,
    intro: Intro::CurrentValues,
    viewer: false,
};
/// `/eventstream`: new messages only, as `event: message`.
const EVENTSTREAM: StreamSpec = StreamSpec {
    topics: TopicSet::of(&[Topic::Message]),
    naming: Naming::Topic,
    intro: Intro::Nothing,
    viewer: false,
};
/// `/stream-random-numbers`: new numbers only, unnamed.
const RANDOM_NUMBERS: StreamSpec = StreamSpec {
    topics: TopicSet::of(&[Topic::Random]),
    naming: Naming::Unnamed,
    intro: Intro::Nothing,
    viewer: false,
};

/// A tutorial route: a fixed spec, resumable like every stream.
async fn tutorial_stream(
    state: AppState,
    client: Option<IpAddr>,
    credential: Credential,
    headers: HeaderMap,
    query: Result<Query<StreamQuery>, axum::extract::rejection::QueryRejection>,
    spec: StreamSpec,
) -> Result<Response, ApiError> {
    let query = parse_query(query)?;
    open_stream(
        &state,
        client,
        credential,
        &headers,
        query.last_event_id.as_deref(),
        spec,
        |_, _| {},
    )
    .await
}

/// The handler for a tutorial route with this spec. They carry the home's state, so they are as private as the
/// dashboard's stream (the random numbers are not the home's and stay open, see [`open_routes`]).
fn tutorial(spec: StreamSpec) -> axum::routing::MethodRouter<AppState> {
    get(
        move |State(state): State<AppState>,
              _reader: Reader,
              credential: Credential,
              ClientAddr(client): ClientAddr,
              headers: HeaderMap,
              query: Result<Query<StreamQuery>, axum::extract::rejection::QueryRejection>| {
            tutorial_stream(state, client, credential, headers, query, spec)
        },
    )
}

async fn random_numbers(
    State(state): State<AppState>,
    credential: Result<Credential, ApiError>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    query: Result<Query<StreamQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let opened = match credential {
        Ok(credential) => {
            tutorial_stream(state, client, credential, headers, query, RANDOM_NUMBERS).await
        }
        Err(refused) => Err(refused),
    };
    let mut response = match opened {
        Ok(response) => response,
        Err(e) => axum::response::IntoResponse::into_response(e),
    };
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}
