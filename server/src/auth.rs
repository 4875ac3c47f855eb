//! Who may write: resolving the write token at start-up, dashboard sessions, and the [`Writer`] extractor every
//! write route takes.
//!
//! The token comes from `HEARTH_TOKEN` or, when unset, is generated at first start, stored in the data
//! directory with owner-only permissions and printed once. Writes carry it as `Authorization: Bearer <token>`,
//! or — from the dashboard — as a session cookie the login form got in exchange for the token. The cookie is
//! HttpOnly (page scripts never see a credential) and SameSite=Strict, and cookie-authenticated writes must also
//! come from our own origin (`Origin` checked against `Host`), so another site cannot make a browser write.
//!
//! The extractor needs only [`Auth`], taken from whatever state the router has through `FromRef`.

use crate::config::Secret;
use crate::error::ApiError;
use anyhow::Context;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::{header, request::Parts, HeaderMap};
use rand::RngCore;
use std::collections::HashSet;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

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

/// A fresh random credential: 24 bytes from the OS's generator, as hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Finds the write token: configured, stored, or newly generated and stored (0600).
pub fn resolve_token(
    configured: Option<&Secret>,
    data_dir: &Path,
) -> anyhow::Result<(Secret, TokenSource)> {
    if let Some(token) = configured
        .map(|t| t.expose().trim())
        .filter(|t| !t.is_empty())
    {
        return Ok((Secret::new(token), TokenSource::Configured));
    }
    let path = data_dir.join(TOKEN_FILE);
    crate::data_dir::restrict(&path, crate::data_dir::FILE_MODE)?;
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => {
            return Ok((Secret::new(text.trim()), TokenSource::Stored))
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read the token file {}", path.display()))
        }
    }
    let token = random_token();
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
    Ok((Secret::new(token), TokenSource::Generated))
}

/// The write credential and the dashboard sessions it was exchanged for.
pub struct Auth {
    token: Secret,
    sessions: Sessions,
}

impl Auth {
    pub fn new(token: Secret) -> Self {
        Auth {
            token,
            sessions: Sessions::default(),
        }
    }

    /// Whether `offered` is the write token.
    pub fn is_token(&self, offered: &str) -> bool {
        self.token.matches(offered)
    }

    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// Whether these headers carry the write token or a live session: such requests may use the connections
    /// kept in reserve for them (a flood of strangers cannot lock the owner out).
    pub fn is_privileged(&self, headers: &HeaderMap) -> bool {
        bearer(headers).is_some_and(|token| self.is_token(token)) || self.has_session(headers)
    }

    /// Whether these headers carry a live session cookie.
    pub fn has_session(&self, headers: &HeaderMap) -> bool {
        session_cookie(headers).is_some_and(|id| self.sessions.contains(id))
    }
}

/// Logged-in dashboard sessions: random ids handed out as cookies.
#[derive(Default)]
pub struct Sessions {
    ids: Mutex<HashSet<String>>,
}

impl Sessions {
    /// Starts a session and returns its id.
    pub fn create(&self) -> String {
        let id = random_token();
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

/// The bearer token in these headers, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The value of the session cookie in these headers, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
}

/// A cookie-carrying write must come from a page of ours: browsers send `Origin` on every POST, and it must
/// name the host the request was sent to.
fn same_origin(headers: &HeaderMap) -> bool {
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

impl<S> FromRequestParts<S> for Writer
where
    S: Send + Sync,
    Arc<Auth>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = Arc::<Auth>::from_ref(state);
        if let Some(token) = bearer(&parts.headers) {
            return if auth.is_token(token) {
                Ok(Writer)
            } else {
                Err(ApiError::Unauthorized)
            };
        }
        if auth.has_session(&parts.headers) {
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
        let (configured, _) = resolve_token(Some(&Secret::new("mine")), &dir).unwrap();
        assert_eq!(configured.expose(), "mine");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
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
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "127.0.0.1:3000".parse().unwrap());
        assert!(same_origin(&headers));
        headers.insert(header::ORIGIN, "http://127.0.0.1:3000".parse().unwrap());
        assert!(same_origin(&headers));
        headers.insert(header::ORIGIN, "http://evil.example".parse().unwrap());
        assert!(!same_origin(&headers));
    }

    #[test]
    fn random_tokens_are_long_and_distinct() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 48);
        assert_ne!(a, b);
    }
}
