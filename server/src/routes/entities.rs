//! The home's entities over HTTP: `GET /api/entities` lists them; `POST /api/entities/{id}` commands one
//! (`{"state": "on"}`: 200 when applied at once, 202 when sent to a device that will confirm); `PATCH` renames
//! it or moves it to another area (`{"name"?, "area"?}`), which sticks across restarts and over the device
//! announcing itself again.

use crate::auth::{Reader, Writer};
use crate::commands;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::hub::Committed;
use crate::state::AppState;
use app::contract::api::{
    paths, CommandAnswer, EditEntity, EntityEdited, EntityList, SetEntity, MAX_NAME_CHARS,
};
use app::contract::{Customized, Entity, EntityId, InputError, Requested, Snapshot};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::ENTITIES, get(list))
        .route(paths::ENTITY, axum::routing::post(command).patch(edit))
}

async fn list(State(state): State<AppState>, _reader: Reader) -> Json<EntityList> {
    let snapshot = state.hub.snapshot();
    Json(EntityList {
        entities: snapshot.entities.into_values().collect(),
    })
}

/// The id in the path, or 404: what is not a slug names no entity.
fn entity_id(raw: &str) -> Result<EntityId, ApiError> {
    EntityId::parse(raw).map_err(|_| ApiError::NotFound(format!("entity {raw:?}")))
}

async fn command(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    _writer: Writer,
    ApiJson(body): ApiJson<SetEntity>,
) -> Result<(StatusCode, Json<CommandAnswer>), ApiError> {
    let id = entity_id(&raw)?;
    let kind = state
        .hub
        .snapshot()
        .entity(&id)
        .map(|e| e.kind)
        .ok_or_else(|| ApiError::NotFound(format!("entity {raw:?}")))?;
    let requested = Requested::for_kind(kind, &body.state).map_err(commands::CommandError::from)?;
    let answer = commands::execute(&state.hub, state.devices.as_ref(), &id, requested).await?;
    let status = match answer {
        CommandAnswer::Applied { .. } => StatusCode::OK,
        CommandAnswer::Sent { .. } => StatusCode::ACCEPTED,
    };
    Ok((status, Json(answer)))
}

/// A name as a person typed it: trimmed, not empty, not too long, no control characters.
fn parse_name(raw: &str) -> Result<String, InputError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(InputError::Empty);
    }
    let got = name.chars().count();
    if got > MAX_NAME_CHARS {
        return Err(InputError::TooLong {
            max: MAX_NAME_CHARS,
            got,
        });
    }
    if name.chars().any(char::is_control) {
        return Err(InputError::ControlCharacter);
    }
    Ok(name.to_owned())
}

/// The entity with a person's edits laid over it, as the state it would be applied to sees it.
fn edited(snapshot: &Snapshot, entity: &Entity, edit: &Customized) -> Entity {
    let mut custom = entity.customized.clone().unwrap_or_default();
    if edit.name.is_some() {
        custom.name.clone_from(&edit.name);
    }
    if edit.area.is_some() {
        custom.area.clone_from(&edit.area);
    }
    let mut next = entity.clone();
    next.customized = Some(custom);
    snapshot.customize(next)
}

async fn edit(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    _writer: Writer,
    ApiJson(body): ApiJson<EditEntity>,
) -> Result<Json<EntityEdited>, ApiError> {
    let id = entity_id(&raw)?;
    if body.name.is_none() && body.area.is_none() {
        return Err(ApiError::bad_request(
            "nothing to change: send a \"name\", an \"area\", or both",
            None,
        ));
    }
    let name = body
        .name
        .as_deref()
        .map(parse_name)
        .transpose()
        .map_err(|e| ApiError::bad_request(format!("name {e}"), Some("name")))?;
    let area = body
        .area
        .as_deref()
        .map(|a| {
            parse_name(a).and_then(|a| {
                // Checked now so the answer can say so; applied against the state the change sees.
                app::contract::AreaId::from_text(&a)
                    .map(|_| a)
                    .ok_or(InputError::NoLetterOrDigit)
            })
        })
        .transpose()
        .map_err(|e| ApiError::bad_request(format!("area {e}"), Some("area")))?;
    let change = Customized { name, area };
    let found = id.clone();
    let committed: Option<Committed<Entity>> = state
        .hub
        .update_as(move |snapshot: &Snapshot| {
            let entity = snapshot.entity(&found)?;
            Some(edited(snapshot, entity, &change))
        })
        .await?;
    let committed = committed.ok_or_else(|| ApiError::NotFound(format!("entity {raw:?}")))?;
    Ok(Json(EntityEdited {
        seq: committed.seq,
        entity: committed.value,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(parse_name("  Desk lamp "), Ok("Desk lamp".to_owned()));
        assert_eq!(parse_name("   "), Err(InputError::Empty));
        assert!(matches!(
            parse_name(&"x".repeat(MAX_NAME_CHARS + 1)),
            Err(InputError::TooLong { .. })
        ));
        assert_eq!(parse_name("a\u{7}"), Err(InputError::ControlCharacter));
    }

    #[test]
    fn only_slugs_can_name_an_entity() {
        assert!(entity_id("kitchen-lights").is_ok());
        assert!(matches!(
            entity_id("Kitchen Lights"),
            Err(ApiError::NotFound(_))
        ));
    }
}
