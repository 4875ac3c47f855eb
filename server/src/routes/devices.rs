//! `POST /api/rooms/{room}/{device}`: change a device; every viewer sees it.

use crate::auth::Writer;
use crate::clock::now_rfc3339;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::AppState;
use app::contract::api::{paths, DeviceChanged, SetDevice};
use app::contract::{Device, Payload, Room, RoomState};
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
    let event = state
        .hub
        .update(move |snapshot| {
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
    match event.as_ref().map(|e| (e.seq, &e.payload)) {
        Some((seq, Payload::Room(room, room_state))) => Ok(Json(DeviceChanged {
            seq,
            room: *room,
            state: room_state.clone(),
        })),
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
