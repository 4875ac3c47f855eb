//! `POST /api/rooms/{room}/{device}`: change a device; every viewer sees it.

use crate::auth::Writer;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::{now_rfc3339, AppState};
use app::contract::{Device, DeviceState, Payload, Room, RoomState};
use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/rooms/{room}/{device}", post(set_device))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetDevice {
    state: DeviceState,
}

/// Resolves a room and one of its devices from URL segments, or says which one does not exist.
pub fn find_device(room: &str, device: &str) -> Result<(Room, Device), ApiError> {
    let room_id = Room::parse(room).ok_or_else(|| ApiError::NotFound(format!("room {room:?}")))?;
    let device_id = Device::parse(device)
        .filter(|d| room_id.has(*d))
        .ok_or_else(|| ApiError::NotFound(format!("device {device:?} in room {room:?}")))?;
    Ok((room_id, device_id))
}

async fn set_device(
    State(state): State<AppState>,
    Path((room, device)): Path<(String, String)>,
    _writer: Writer,
    ApiJson(body): ApiJson<SetDevice>,
) -> Result<Json<RoomState>, ApiError> {
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
    let event = state
        .hub
        .update(|snapshot| {
            let mut room_state = snapshot
                .rooms
                .get(&room)
                .cloned()
                .unwrap_or_else(|| RoomState::initial(room, now_rfc3339()));
            room_state.devices.insert(device, body.state);
            room_state.updated_at = now_rfc3339();
            Some(Payload::Room(room, room_state))
        })
        .await?;
    match event.as_ref().map(|e| &e.payload) {
        Some(Payload::Room(_, room_state)) => Ok(Json(room_state.clone())),
        _ => Err(ApiError::Internal(anyhow::anyhow!(
            "device update published nothing"
        ))),
    }
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
