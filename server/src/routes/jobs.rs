//! Long-running jobs: `POST /api/jobs` starts one; `GET /api/jobs/{id}/events` streams its `progress` (0..100)
//! then `done`, and answers 204 once it is finished, so a client's automatic reconnect stops there.

use super::streams::{open_stream, Intro, StreamSpec};
use crate::auth::Writer;
use crate::error::ApiError;
use crate::hub::Start;
use crate::sse::frame;
use crate::state::AppState;
use crate::stream::Naming;
use app::contract::{JobUpdate, Payload, Topic, TopicSet};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rand::Rng;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Progress moves in steps of this many percent.
const STEP: u8 = 5;
/// Time between steps: a job takes 20 steps, about 4 s.
const STEP_EVERY: Duration = Duration::from_millis(200);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/jobs", post(start_job))
        .route("/api/jobs/{id}/events", get(job_events))
}

/// Whether `path` is a job's event stream, `/api/jobs/{id}/events` (the route above).
pub fn is_job_events_path(path: &str) -> bool {
    path.strip_prefix("/api/jobs/")
        .and_then(|rest| rest.strip_suffix("/events"))
        .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

/// Every job this process started and how far it got.
#[derive(Default)]
pub struct Jobs {
    progress: Mutex<HashMap<String, JobUpdate>>,
}

impl Jobs {
    fn get(&self, id: &str) -> Option<JobUpdate> {
        self.lock().get(id).cloned()
    }
    fn unfinished(&self) -> Vec<JobUpdate> {
        self.lock().values().filter(|j| !j.done).cloned().collect()
    }
    pub fn set(&self, update: JobUpdate) {
        self.lock().insert(update.id.clone(), update);
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, JobUpdate>> {
        self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Serialize)]
struct Started {
    id: String,
    events: String,
}

async fn start_job(
    State(state): State<AppState>,
    _writer: Writer,
) -> Result<(StatusCode, Json<Started>), ApiError> {
    let id = format!("{:016x}", rand::rng().random::<u64>());
    let first = JobUpdate {
        id: id.clone(),
        progress: 0,
        done: false,
    };
    // Durable before it is acknowledged: a restart resumes it.
    state.hub.publish(Payload::Job(first.clone())).await?;
    state.jobs.set(first);
    tokio::spawn(run_job(state.clone(), id.clone(), 0));
    let events = format!("/api/jobs/{id}/events");
    Ok((StatusCode::ACCEPTED, Json(Started { id, events })))
}

/// Picks up the jobs a previous run of the server left unfinished (restored from the store).
pub fn resume_jobs(state: &AppState) {
    for job in state.jobs.unfinished() {
        tracing::info!(job = %job.id, progress = job.progress, "resuming an unfinished job");
        tokio::spawn(run_job(state.clone(), job.id, job.progress));
    }
}

/// Moves a job from `progress` to 100, publishing each step; stops early on shutdown.
async fn run_job(state: AppState, id: String, mut progress: u8) {
    while progress < 100 {
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = tokio::time::sleep(STEP_EVERY) => {}
        }
        progress = progress.saturating_add(STEP).min(100);
        let update = JobUpdate {
            id: id.clone(),
            progress,
            done: progress == 100,
        };
        match state.hub.publish(Payload::Job(update.clone())).await {
            Ok(_) => state.jobs.set(update),
            Err(e) => {
                tracing::warn!(job = %id, error = %e, "job step not stored; trying again");
                progress = progress.saturating_sub(STEP);
            }
        }
    }
}

#[derive(Debug, Default, serde::Deserialize)]
struct JobQuery {
    #[serde(rename = "lastEventId")]
    last_event_id: Option<String>,
}

async fn job_events(
    State(state): State<AppState>,
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
        &headers,
        query.last_event_id.as_deref(),
        spec,
        move |plan, start| {
            // A fresh (or reset) subscriber first learns how far the job is, as of the same cut as the live feed.
            if let Start::Fresh(snapshot) | Start::Reset(snapshot) = start {
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
}
