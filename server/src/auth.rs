//! The write credential: resolving it at start-up and checking it on every write.
//!
//! The token comes from `HEARTH_TOKEN` or, when unset, is generated at first start, stored in the data
//! directory with owner-only permissions and printed once. Writes carry it as `Authorization: Bearer <token>`,
//! or — from the dashboard — as a session cookie the login form got in exchange for the token. The cookie is
//! HttpOnly (page scripts never see a credential) and SameSite=Strict, and cookie-authenticated writes must also
//! come from our own origin (`Origin` checked against `Host`), so another site cannot make a browser write.

use crate::error::ApiError;
use crate::state::AppState;
use anyhow::Context;
use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};
use rand::RngCore;
use std::collections::HashSet;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Mutex;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "hearth_session";

const TOKEN_FILE: &str = "token";

/// Where the token came from, so `main` can tell the user once.
pub enum TokenSource {
    Configured,
    Stored,
    /// Newly generated: print it, this is the only time.
    Generated,
}

/// Finds the write token: configured, stored, or newly generated and stored (0600).
pub fn resolve_token(
    configured: Option<&str>,
    data_dir: &Path,
) -> anyhow::Result<(String, TokenSource)> {
    if let Some(token) = configured.map(str::trim).filter(|t| !t.is_empty()) {
        return Ok((token.to_owned(), TokenSource::Configured));
    }
    let path = data_dir.join(TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => {
            return Ok((text.trim().to_owned(), TokenSource::Stored))
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read the token file {}", path.display()))
        }
    }
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot write the token file {}", path.display()))?;
    file.write_all(token.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write the token file {}", path.display()))?;
    Ok((token, TokenSource::Generated))
}

/// Compares in time independent of where the first difference is, so the token cannot be guessed byte by byte.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Logged-in dashboard sessions: random ids handed out as cookies.
#[derive(Default)]
pub struct Sessions {
    ids: Mutex<HashSet<String>>,
}

impl Sessions {
    /// Starts a session and returns its id.
    pub fn create(&self) -> String {
        let mut bytes = [0u8; 24];
        rand::rng().fill_bytes(&mut bytes);
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        self.lock().insert(id.clone());
        id
    }

    pub fn contains(&self, id: &str) -> bool {
        self.lock().contains(id)
    }

    pub fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.ids.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The value of the session cookie in these headers, if any.
pub fn session_cookie(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
}

/// True when the request has a live session cookie.
pub fn has_session(headers: &axum::http::HeaderMap, state: &AppState) -> bool {
    session_cookie(headers).is_some_and(|id| state.sessions.contains(id))
}

/// A cookie-carrying write must come from a page of ours: browsers send `Origin` on every POST, and it must
/// name the host the request was sent to.
fn same_origin(headers: &axum::http::HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        // Not a browser POST (curl, scripts): the cookie alone was not sent by a foreign page.
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or("");
    !host.is_empty() && origin_host == host
}

/// Proof that the request may write. Extracting it checks the bearer token or the session cookie (with its
/// origin); without it the handler never runs, so nothing is applied.
pub struct Writer;

impl FromRequestParts<AppState> for Writer {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        if let Some(token) = bearer {
            return if same_secret(token, &state.token) {
                Ok(Writer)
            } else {
                Err(ApiError::Unauthorized)
            };
        }
        if has_session(&parts.headers, state) {
            return if same_origin(&parts.headers) {
                Ok(Writer)
            } else {
                Err(ApiError::Forbidden("cross-origin write refused".to_owned()))
            };
        }
        Err(ApiError::Unauthorized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn generated_token_is_stored_owner_only_and_reused() {
        let dir = std::env::temp_dir().join(format!("hearth-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (first, source) = resolve_token(None, &dir).unwrap();
        assert!(matches!(source, TokenSource::Generated));
        let mode = std::fs::metadata(dir.join(TOKEN_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let (again, source) = resolve_token(None, &dir).unwrap();
        assert!(matches!(source, TokenSource::Stored));
        assert_eq!(first, again);
        let (configured, _) = resolve_token(Some("mine"), &dir).unwrap();
        assert_eq!(configured, "mine");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn session_cookie_is_found_among_others() {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "a=1; hearth_session=abc; b=2".parse().unwrap(),
        );
        assert_eq!(session_cookie(&headers), Some("abc"));
        headers.insert(header::COOKIE, "hearth_sessionx=1".parse().unwrap());
        assert_eq!(session_cookie(&headers), None);
    }

    #[test]
    fn cookie_writes_need_our_own_origin() {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(header::HOST, "127.0.0.1:3000".parse().unwrap());
        assert!(same_origin(&headers));
        headers.insert(header::ORIGIN, "http://127.0.0.1:3000".parse().unwrap());
        assert!(same_origin(&headers));
        headers.insert(header::ORIGIN, "http://evil.example".parse().unwrap());
        assert!(!same_origin(&headers));
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }
}
