//! `GET /camera/front-door/{id}.svg`: the front-door camera's images, by the id their event carried.
//!
//! An image URL names one drawing forever (the id is the shot's event id; the drawing is a pure function of the
//! shot), so it is served as immutable with a year-long `Cache-Control` and a strong `ETag`: a browser fetches
//! each image once, and a revalidation costs a 304. When reading the home needs a login, the image is the
//! browser's alone (`private`): a shared cache on the way must not hand it to the next visitor. Only the shots the snapshot keeps are served; any other id,
//! or a file name that is not exactly `<digits>.svg`, is a 404 with the usual JSON error.

use crate::auth::Reader;
use crate::camera;
use crate::error::ApiError;
use crate::state::AppState;
use app::contract::{parse_image_file, CameraShot, CAMERA_PATH};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// A year: the longest lifetime caches honour, for a URL whose bytes never change; in any cache when anyone may
/// read the home, in the browser's only when it needs a login.
const CACHE_FOREVER_PUBLIC: &str = "public, max-age=31536000, immutable";
const CACHE_FOREVER_PRIVATE: &str = "private, max-age=31536000, immutable";
/// An SVG opened on its own is a document: let it draw, never run anything.
const IMAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'";

pub fn routes() -> Router<AppState> {
    Router::new().route(&format!("{CAMERA_PATH}/{{file}}"), get(image))
}

async fn image(
    State(state): State<AppState>,
    _reader: Reader,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let shots = state.hub.snapshot().camera;
    let public = state.auth.reads_are_public();
    respond(&shots, &file, headers.get(header::IF_NONE_MATCH), public)
}

/// The answer for `file` among the kept `shots`: the image, a 304 when the client's copy is current, or a 404;
/// cacheable by anyone only when the home is `public`.
pub fn respond(
    shots: &[CameraShot],
    file: &str,
    if_none_match: Option<&HeaderValue>,
    public: bool,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::NotFound(format!("camera image {file:?}"));
    let id = parse_image_file(file).ok_or_else(not_found)?;
    let shot = shots
        .iter()
        .rev()
        .find(|s| s.id() == Some(id))
        .ok_or_else(not_found)?;
    let svg = camera::draw(id, &shot.taken_at);
    let etag = camera::etag(svg.as_bytes());
    let fresh = if_none_match
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let cache = if public {
        CACHE_FOREVER_PUBLIC
    } else {
        CACHE_FOREVER_PRIVATE
    };
    let common = [
        (header::CACHE_CONTROL, cache.to_owned()),
        (header::ETAG, etag),
    ];
    if fresh {
        return Ok((StatusCode::NOT_MODIFIED, common).into_response());
    }
    Ok((
        common,
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CONTENT_SECURITY_POLICY, IMAGE_CSP),
        ],
        svg,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shots() -> Vec<CameraShot> {
        vec![CameraShot::new(7, "2026-11-21T10:00:00.000Z".into())]
    }

    fn header_of(response: &Response, name: header::HeaderName) -> String {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    #[test]
    fn a_kept_shot_is_served_as_an_immutable_svg() {
        let response = respond(&shots(), "7.svg", None, true).unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header_of(&response, header::CONTENT_TYPE), "image/svg+xml");
        assert_eq!(
            header_of(&response, header::CACHE_CONTROL),
            CACHE_FOREVER_PUBLIC
        );
        assert!(header_of(&response, header::ETAG).starts_with('"'));
    }

    #[test]
    fn a_current_copy_gets_304_with_the_same_validator() {
        let etag = header_of(
            &respond(&shots(), "7.svg", None, true).unwrap(),
            header::ETAG,
        );
        let value = HeaderValue::from_str(&format!("\"other\", {etag}")).unwrap();
        let response = respond(&shots(), "7.svg", Some(&value), true).unwrap();
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(header_of(&response, header::ETAG), etag);
        assert_eq!(
            header_of(&response, header::CACHE_CONTROL),
            CACHE_FOREVER_PUBLIC
        );
        let stale = HeaderValue::from_static("\"other\"");
        let response = respond(&shots(), "7.svg", Some(&stale), true).unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[test]
    fn unknown_and_malformed_ids_are_404_json_errors() {
        for file in ["8.svg", "07.svg", "7.png", "seven.svg", "-7.svg", ""] {
            let err = respond(&shots(), file, None, true).unwrap_err();
            assert_eq!(err.status(), StatusCode::NOT_FOUND, "{file}");
            let response = err.into_response();
            assert_eq!(
                header_of(&response, header::CONTENT_TYPE),
                "application/json"
            );
        }
    }
}
