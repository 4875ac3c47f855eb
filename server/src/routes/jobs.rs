//! The job routes: `POST /api/jobs` starts one; `GET /api/jobs/{id}/events` streams its `progress` (0..100) then
//! `done`, and answers 204 once it is finished, so a client's automatic reconnect stops there. The registry and
//! the runner live in [`crate::jobs`].

use super::streams::{open_stream, Intro, StreamSpec};
use crate::auth::{ClientAddr, Credential, Reader, Writer};
use crate::error::ApiError;
use crate::state::AppState;
use crate::stream::Naming;
use app::contract::api::{paths, JobStarted};
use app::contract::{Payload, Topic, TopicSet};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use sse::frame;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::JOBS, post(start_job))
        .route(paths::JOB_EVENTS, get(job_events))
}

async fn start_job(
    State(state): State<AppState>,
    _writer: Writer,
) -> Result<(StatusCode, Json<JobStarted>), ApiError> {
    // Durable before it is acknowledged: a restart resumes it.
    let started = state.jobs.start().await?;
    let events = paths::job_events(&started.value.id);
    Ok((
        StatusCode::ACCEPTED,
        Json(JobStarted {
            id: started.value.id,
            events,
            seq: started.seq,
        }),
    ))
}

#[derive(Debug, Default, serde::Deserialize)]
struct JobQuery {
    #[serde(rename = "lastEventId")]
    last_event_id: Option<String>,
}

async fn job_events(
    State(state): State<AppState>,
    _reader: Reader,
    credential: Credential,
    ClientAddr(client): ClientAddr,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(query): Query<JobQuery>,
) -> Result<Response, ApiError> {
    let Some(status) = state.jobs.get(&id) else {
        return Err(ApiError::NotFound(format!("job {id:?}")));
    };
    // The registry is updated once a step's publish returns, but subscribers get `done` as soon as it is
    // committed, a moment earlier: a client reconnecting in between must already get its 204, so the committed
    // state counts too.
    let done = status.done
        || state
            .hub
            .snapshot()
            .jobs
            .iter()
            .any(|j| j.id == id && j.done);
    if done {
        // Finished: 204 tells an EventSource to stop reconnecting.
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let spec = StreamSpec {
        topics: TopicSet::of(&[Topic::Job]),
        naming: Naming::Alt,
        intro: Intro::Nothing,
        viewer: false,
    };
    let job_id = id.clone();
    open_stream(
        &state,
        client,
        credential,
        &headers,
        query.last_event_id.as_deref(),
        spec,
        move |plan, starting_state| {
            // A fresh (or reset) subscriber first learns how far the job is, as of the same cut as the live feed.
            if let Some(snapshot) = starting_state {
                let current = snapshot.jobs.iter().find(|j| j.id == job_id).cloned();
                if let Some(job) = current.or(Some(status)) {
                    let name = if job.done { "done" } else { "progress" };
                    let data = Payload::Job(job.clone()).to_json();
                    plan.intro
                        .push(frame(Some(snapshot.seq), Some(name), &data));
                    plan.close_after_intro = job.done;
                }
            }
            let wanted = job_id.clone();
            plan.filter = Some(Box::new(
                move |e| matches!(&e.payload, Payload::Job(j) if j.id == wanted),
            ));
            plan.end_after.get_or_insert_with(|| {
                Box::new(|e| matches!(&e.payload, Payload::Job(j) if j.done))
            });
        },
    )
    .await
}
