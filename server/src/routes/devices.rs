//! `POST /api/rooms/{room}/{device}`: the tutorial's way to change a demo device, kept at its path and in its
//! shapes (`{"state": "on"}` in, the room's state out); the device is a demo entity, so every viewer sees the
//! change as that entity's.

use crate::auth::Writer;
use crate::clock::now_rfc3339;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::AppState;
use app::contract::api::{paths, DeviceChanged, SetDevice};
use app::contract::{Device, Entity, Payload, Published, Room, RoomState};
use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new().route(paths::DEVICE, post(set_device))
}

/// Resolves a room and one of its devices from URL segments, or says which one does not exist.
pub fn find_device(room: &str, device: &str) -> Result<(Room, Device), ApiError> {
    let room_id = Room::parse(room).ok_or_else(|| ApiError::NotFound(format!("room {room:?}")))?;
    let device_id = Device::parse(device)
        .filter(|d| room_id.has(*d))
        .ok_or_else(|| ApiError::NotFound(format!("device {device:?} in room {room:?}")))?;
    Ok((room_id, device_id))
}

/// A demo device's change as committed: its entity (what is published) and its room as the tutorial's answer
/// shows it.
#[derive(Debug, Clone)]
struct RoomChange {
    entity: Entity,
    room: RoomState,
}

impl From<RoomChange> for Payload {
    fn from(change: RoomChange) -> Payload {
        Payload::Entity(change.entity)
    }
}

impl Published for RoomChange {}

async fn set_device(
    State(state): State<AppState>,
    Path((room, device)): Path<(String, String)>,
    _writer: Writer,
    ApiJson(body): ApiJson<SetDevice>,
) -> Result<Json<DeviceChanged>, ApiError> {
    let (room, device) = find_device(&room, &device)?;
    if !device.accepts(body.state) {
        let [a, b] = device.states();
        return Err(ApiError::bad_request(
            format!(
                "{} can only be {a} or {b}, not {}",
                device.name(),
                body.state
            ),
            Some("state"),
        ));
    }
    let id = room.entity_id(device);
    let change = state
        .hub
        .update_as(move |snapshot| {
            let entity = snapshot.entity(&id)?;
            let mut next = entity.clone();
            if next.state != body.state.name() {
                next.state = body.state.name().to_owned();
                next.changed_at = now_rfc3339();
            }
            next.pending = None;
            let mut room_state = snapshot.room_state(room)?;
            room_state.devices.insert(device, body.state);
            room_state.updated_at = room_state.updated_at.max(next.changed_at.clone());
            Some(RoomChange {
                entity: next,
                room: room_state,
            })
        })
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "device {:?} in room {:?}: the demo home is off",
                device.name(),
                room.name()
            ))
        })?;
    Ok(Json(DeviceChanged {
        seq: change.seq,
        room,
        state: change.value.room,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_rooms_and_devices_are_not_found() {
        assert!(find_device("kitchen", "blinds").is_ok());
        assert!(matches!(
            find_device("garage", "lights"),
            Err(ApiError::NotFound(_))
        ));
        assert!(matches!(
            find_device("kitchen", "curtains"),
            Err(ApiError::NotFound(_))
        ));
    }
}
