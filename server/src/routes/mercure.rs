//! `/.well-known/mercure`: subscribe (`GET`, an event stream), publish (`POST`, a form) and the subscriptions API
//! (`GET /.well-known/mercure/subscriptions[/{topic}[/{subscriber}]]`). The protocol's rules are in
//! [`crate::mercure`]; this module turns requests into them and answers as the protocol says: a publish with
//! exactly the update's id as `text/plain`, a stream with `200` and `text/event-stream`, uncompressed, 401 for a
//! missing or refused token, 403 for one whose claims do not allow what is asked. Errors carry Hearth's JSON
//! body (clients of the protocol read the status).

use crate::auth::ClientAddr;
use crate::error::ApiError;
use crate::extract::BodyLimit;
use crate::hub::{Start, SubscribeRequest, Subscription as HubSubscription};
use crate::mercure::subscriptions::{self, new_subscriber_id, Subscriptions};
use crate::mercure::{
    authority, is_form, parse_form, requested, reserved_topic, resolve, Access, Authority, Resume,
    SelectorSet, Subscription, HUB_PATH, MAX_SELECTORS,
};
use crate::state::AppState;
use crate::stream::{event_stream, sse_response, Naming, StreamPlan};
use app::contract::{generated_id, Payload, EARLIEST};
use axum::body::Bytes;
use axum::extract::{OriginalUri, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hub_guard::Announced;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(HUB_PATH, get(subscribe).post(publish))
        .route(subscriptions::PATH, get(list_subscriptions))
        .route(
            &format!("{}/{{*rest}}", subscriptions::PATH),
            get(list_subscriptions),
        )
}

/// Streams are never cached, even by a browser (a token may be in the URL).
const NO_STORE: &str = "private, no-cache, no-store, must-revalidate, max-age=0";

/// The query of a subscribe (or subscriptions API) request.
#[derive(Default)]
struct SubscribeQuery {
    /// Each selector, and whether it may be a URI template (`topic`: yes; draft-08's `match`: exact only).
    selectors: Vec<(String, bool)>,
    last_event_id: Option<String>,
    authorization: Option<String>,
}

fn parse_query(raw: Option<&str>) -> SubscribeQuery {
    let mut q = SubscribeQuery::default();
    let mut draft_08_id = None;
    for (name, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match &*name {
            "topic" => q.selectors.push((value.into_owned(), true)),
            "match" | "match_exact" => q.selectors.push((value.into_owned(), false)),
            "lastEventID" => q.last_event_id = Some(value.into_owned()),
            "last_event_id" => draft_08_id = Some(value.into_owned()),
            "authorization" => q.authorization = Some(value.into_owned()),
            _ => {}
        }
    }
    q.last_event_id = q.last_event_id.or(draft_08_id);
    q
}

async fn subscribe(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let query = parse_query(raw.as_deref());
    let mercure = &state.mercure;
    let who = authority(
        &state.auth,
        mercure.keys.subscriber.as_ref(),
        &headers,
        query.authorization.as_deref(),
        client,
        false,
    )?;
    if matches!(who, Authority::Anonymous) && !mercure.anonymous {
        return Err(ApiError::MercureUnauthorized(
            "subscribing needs a token (Authorization: Bearer, the mercureAuthorization cookie or the \
             authorization query parameter); this hub lets no anonymous subscriber in"
                .to_owned(),
        ));
    }
    if query.selectors.is_empty() {
        return Err(ApiError::bad_request(
            "missing \"topic\": name at least one topic selector",
            Some("topic"),
        ));
    }
    if query.selectors.len() > MAX_SELECTORS {
        return Err(ApiError::bad_request(
            format!("at most {MAX_SELECTORS} topic selectors per subscriber"),
            Some("topic"),
        ));
    }
    let slot = super::streams::stream_slot(&state, client, matches!(who, Authority::Owner))?;
    let access = Access::shared(query.selectors, &who, state.auth.reads_are_public());
    let asked = requested(
        headers.get("last-event-id").and_then(|v| v.to_str().ok()),
        query.last_event_id.as_deref(),
    );
    let resume = resolve(&state.hub, asked, &access);
    // Announced before this subscriber joins, as the reference hub does: it is not sent its own arrival.
    let announced = match &mercure.subscriptions {
        Some(registry) => Some(announce(&state, registry, &access, &who).await),
        None => None,
    };
    let from = match &resume {
        Resume::After { seq, .. } => Some(seq.to_string()),
        Resume::Live | Resume::Unknown => None,
    };
    let HubSubscription { start, live } = state
        .hub
        .subscribe(SubscribeRequest {
            topics: access.topics,
            last_event_id: from.as_deref(),
            state_stands_in: false,
        })
        .await;
    let (replay, resumed) = match start {
        Start::Resume(replay) => (Some(replay), true),
        Start::Fresh(_) | Start::Reset(_) => (None, false),
    };
    let shutdown = state.shutdown.child_token();
    let expiry = match &who {
        Authority::Token(claims) => claims.exp.map(|exp| close_at(exp, &shutdown, &state)),
        Authority::Owner | Authority::Anonymous => None,
    };
    let allowed = Arc::clone(&access);
    let plan = StreamPlan {
        topics: access.topics,
        naming: Naming::Topic,
        intro: vec![sse::retry(state.config.retry_ms)],
        replay,
        live,
        filter: None,
        render: Some(Box::new(move |event| {
            if allowed.allows(event) {
                event.mercure()
            } else {
                None
            }
        })),
        end_after: None,
        close_after_intro: false,
        keepalive: sse::comment("keep-alive"),
        keepalive_every: state.config.keepalive(),
        shutdown,
        metrics: state.metrics.clone(),
        guards: Box::new((slot, announced, expiry)),
    };
    let mut response = sse_response(event_stream(plan));
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_STORE));
    let echo = match resume {
        Resume::Live => None,
        Resume::After { echo, .. } if resumed => Some(echo),
        Resume::After { .. } | Resume::Unknown => Some(EARLIEST.to_owned()),
    };
    if let Some(value) = echo.and_then(|e| HeaderValue::from_str(&e).ok()) {
        headers.insert("last-event-id", value);
    }
    Ok(response)
}

/// Closes the stream (cancels `stream`) when the subscriber's token expires at `exp` (seconds since the
/// epoch); the guard returned stops the timer when the stream ends first.
fn close_at(exp: f64, stream: &CancellationToken, state: &AppState) -> tokio_util::sync::DropGuard {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let left = Duration::from_secs_f64((exp - now).clamp(0.0, 1e9));
    let stopped = CancellationToken::new();
    let (stream, done) = (stream.clone(), stopped.clone());
    state.tasks.spawn(async move {
        tokio::select! {
            _ = tokio::time::sleep(left) => stream.cancel(),
            _ = done.cancelled() => {}
        }
    });
    stopped.drop_guard()
}

mod hub_guard {
    //! A subscriber's place in the subscriptions list, and its departure's announcement when it leaves.

    use super::{Subscription, Subscriptions};
    use crate::hub::Hub;
    use app::contract::Payload;
    use std::sync::Arc;
    use tokio_util::task::TaskTracker;

    pub struct Announced {
        pub registry: Arc<Subscriptions>,
        pub subscriber: String,
        pub subscriptions: Vec<Subscription>,
        pub hub: Hub,
        pub tasks: TaskTracker,
    }

    impl Drop for Announced {
        fn drop(&mut self) {
            self.registry.remove(&self.subscriber);
            let hub = self.hub.clone();
            let updates: Vec<Payload> = self
                .subscriptions
                .iter()
                .map(|s| Payload::Mercure(s.announcement(false)))
                .collect();
            self.tasks.spawn(async move {
                for update in updates {
                    if let Err(e) = hub.publish(update).await {
                        tracing::warn!(error = %e, "could not announce the end of a subscription");
                    }
                }
            });
        }
    }
}

/// Records a new subscriber's subscriptions and announces them.
async fn announce(
    state: &AppState,
    registry: &Arc<Subscriptions>,
    access: &Access,
    who: &Authority,
) -> Announced {
    let subscriber = new_subscriber_id();
    let payload = match who {
        Authority::Token(claims) => claims.mercure.payload.clone(),
        Authority::Owner | Authority::Anonymous => None,
    };
    let subscriptions: Vec<Subscription> = access
        .subscribed
        .raw()
        .iter()
        .map(|topic| Subscription::new(topic, &subscriber, payload.clone()))
        .collect();
    registry.add(&subscriber, subscriptions.clone());
    for subscription in &subscriptions {
        let update = Payload::Mercure(subscription.announcement(true));
        if let Err(e) = state.hub.publish(update).await {
            tracing::warn!(error = %e, "could not announce a subscription");
        }
    }
    Announced {
        registry: Arc::clone(registry),
        subscriber,
        subscriptions,
        hub: state.hub.clone(),
        tasks: state.tasks.clone(),
    }
}

async fn publish(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    limit: Option<axum::Extension<BodyLimit>>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let query = parse_query(raw.as_deref());
    let who = authority(
        &state.auth,
        state.mercure.keys.publisher.as_ref(),
        &headers,
        query.authorization.as_deref(),
        client,
        true,
    )?;
    if matches!(who, Authority::Anonymous) {
        return Err(ApiError::MercureUnauthorized(
            "publishing needs a token with a mercure.publish claim (or Hearth's write token)"
                .to_owned(),
        ));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if !is_form(content_type) {
        return Err(ApiError::ExpectedContentType(
            "application/x-www-form-urlencoded",
        ));
    }
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge {
                limit: limit.map_or(crate::config::DEFAULT_BODY_LIMIT, |l| l.0 .0),
            }
        } else {
            ApiError::bad_request(format!("could not read the body: {e}"), None)
        }
    })?;
    let update =
        parse_form(&body).map_err(|bad| ApiError::bad_request(bad.message, Some(bad.field)))?;
    if let Some(topic) = reserved_topic(&update.topics) {
        return Err(ApiError::Forbidden(format!(
            "{topic:?} is Hearth's own: the dashboard's topics change only through their API (entities, \
             messages, jobs), which checks what is written, and subscription updates come from the hub"
        )));
    }
    if let Authority::Token(claims) = &who {
        let allowed = SelectorSet::new(claims.mercure.publish.clone().unwrap_or_default());
        if allowed.is_empty() {
            return Err(ApiError::Forbidden(
                "the token's mercure.publish claim allows no topic".to_owned(),
            ));
        }
        if let Some(topic) = update.topics.iter().find(|t| !allowed.matches(t)) {
            return Err(ApiError::Forbidden(format!(
                "the token's mercure.publish claim does not cover the topic {topic:?}; nothing was published"
            )));
        }
    }
    let committed = state.hub.publish_as(update).await?;
    let id = committed.value.sse_id(committed.seq).into_owned();
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        id,
    )
        .into_response())
}

async fn list_subscriptions(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    let Some(registry) = &state.mercure.subscriptions else {
        return Err(ApiError::NotFound(
            "the subscriptions API (it is off: start Hearth with --mercure-subscriptions)"
                .to_owned(),
        ));
    };
    let query = parse_query(uri.query());
    let who = authority(
        &state.auth,
        state.mercure.keys.subscriber.as_ref(),
        &headers,
        query.authorization.as_deref(),
        client,
        false,
    )?;
    // "The requested URL MUST match at least one of the topic selectors provided in the mercure.subscribe
    // key of the JWS."
    let requested_url = uri
        .path_and_query()
        .map_or(uri.path(), |p| p.as_str())
        .to_owned();
    match &who {
        Authority::Owner => {}
        Authority::Anonymous => {
            return Err(ApiError::MercureUnauthorized(
                "the subscriptions API needs a token whose mercure.subscribe claim covers its URL"
                    .to_owned(),
            ))
        }
        Authority::Token(claims) => {
            let allowed = SelectorSet::new(claims.mercure.subscribe.clone().unwrap_or_default());
            if !allowed.matches(&requested_url) && !allowed.matches(uri.path()) {
                return Err(ApiError::Forbidden(
                    "the token's mercure.subscribe claim does not cover this URL".to_owned(),
                ));
            }
        }
    }
    let rest = uri
        .path()
        .strip_prefix(subscriptions::PATH)
        .unwrap_or("")
        .trim_start_matches('/');
    let parts: Vec<String> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split('/')
            .map(|p| {
                subscriptions::decode(p)
                    .ok_or_else(|| ApiError::NotFound("that subscription".into()))
            })
            .collect::<Result<_, _>>()?
    };
    let all = registry.all().await?;
    let (_, last) = state.hub.replayable();
    let last_event_id = if last == 0 {
        EARLIEST.to_owned()
    } else {
        generated_id(last)
    };
    let body = match parts.as_slice() {
        [] | [_] => {
            let wanted: Vec<&Subscription> = all
                .iter()
                .filter(|s| parts.first().is_none_or(|topic| &s.topic == topic))
                .collect();
            json!({
                "@context": subscriptions::CONTEXT,
                "id": requested_url,
                "type": "Subscriptions",
                "lastEventID": last_event_id,
                "subscriptions": wanted,
            })
        }
        [topic, subscriber] => {
            let found = all
                .iter()
                .find(|s| &s.topic == topic && &s.subscriber == subscriber)
                .ok_or_else(|| ApiError::NotFound("that subscription".into()))?;
            let mut doc = serde_json::to_value(found).map_err(anyhow::Error::from)?;
            doc["@context"] = json!(subscriptions::CONTEXT);
            doc["lastEventID"] = json!(last_event_id);
            doc
        }
        _ => return Err(ApiError::NotFound("that subscription".into())),
    };
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/ld+json"),
            (header::CACHE_CONTROL, "must-revalidate"),
        ],
        body.to_string(),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_takes_topics_matches_and_ids_in_either_drafts_names() {
        let q = parse_query(Some(
            "topic=https%3A%2F%2Fexample.com%2F%7Bid%7D&match=exact&last_event_id=b&lastEventID=a&authorization=t",
        ));
        assert_eq!(
            q.selectors,
            [
                ("https://example.com/{id}".to_owned(), true),
                ("exact".to_owned(), false)
            ]
        );
        assert_eq!(
            q.last_event_id.as_deref(),
            Some("a"),
            "draft-07's name first"
        );
        assert_eq!(q.authorization.as_deref(), Some("t"));
        let q = parse_query(Some("topic=x&last_event_id=b"));
        assert_eq!(q.last_event_id.as_deref(), Some("b"));
        assert!(parse_query(None).selectors.is_empty());
    }
}
