//! Who may write: resolving the write token at start-up, dashboard sessions, and the [`Writer`] extractor every
//! write route takes.
//!
//! The token comes from `HEARTH_TOKEN` or, when unset, is generated at first start, stored in the data
//! directory with owner-only permissions and printed once. Writes carry it as `Authorization: Bearer <token>`,
//! or — from the dashboard — as a session cookie the login form got in exchange for the token. The cookie is
//! HttpOnly (page scripts never see a credential) and SameSite=Strict, and cookie-authenticated writes must also
//! come from our own origin (`Origin` checked against `Host`), so another site cannot make a browser write.
//!
//! Sessions expire and are capped ([`sessions`]); failed attempts, by token or login, are throttled per client
//! address ([`throttle`]). The extractor needs only [`Auth`], taken from whatever state the router has through
//! `FromRef`.

mod sessions;
mod throttle;

pub use sessions::{SessionPolicy, SessionStore, Sessions};
pub use throttle::Throttle;

use crate::config::Secret;
use crate::error::ApiError;
use anyhow::Context;
use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::{header, request::Parts, HeaderMap};
use rand::RngCore;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "hearth_session";

const TOKEN_FILE: &str = "token";

/// A write token shorter than this is refused at start-up: it could be guessed.
pub const MIN_TOKEN_CHARS: usize = 16;

/// Where the token came from, so `main` can tell the user once.
#[derive(Debug)]
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
        check_length(token, "HEARTH_TOKEN (or --token)")?;
        return Ok((Secret::new(token), TokenSource::Configured));
    }
    let path = data_dir.join(TOKEN_FILE);
    crate::data_dir::restrict(&path, crate::data_dir::FILE_MODE)?;
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => {
            check_length(text.trim(), &format!("the token in {}", path.display()))?;
            return Ok((Secret::new(text.trim()), TokenSource::Stored));
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

fn check_length(token: &str, what: &str) -> anyhow::Result<()> {
    let chars = token.chars().count();
    if chars < MIN_TOKEN_CHARS {
        anyhow::bail!(
            "{what} is {chars} characters long; a write token needs at least {MIN_TOKEN_CHARS} \
             (leave it unset and Hearth generates one)"
        );
    }
    Ok(())
}

/// How the write credential is guarded.
#[derive(Debug, Clone, Copy)]
pub struct AuthPolicy {
    pub sessions: SessionPolicy,
    /// Mark the session cookie `Secure` (served behind TLS).
    pub secure_cookie: bool,
    /// Failed attempts an address may make per minute before it is refused for the rest of it.
    pub failures_per_minute: u32,
    /// Reads need no credential (loopback, or `--public-read`).
    pub public_reads: bool,
}

/// The write credential, the dashboard sessions it was exchanged for, and the count of failed attempts.
pub struct Auth {
    token: Secret,
    sessions: Sessions,
    throttle: Throttle,
    secure_cookie: bool,
    public_reads: bool,
}

impl Auth {
    pub fn new(token: Secret, policy: AuthPolicy) -> Self {
        Auth {
            token,
            sessions: Sessions::new(policy.sessions),
            throttle: Throttle::new(
                policy.failures_per_minute,
                std::time::Duration::from_secs(60),
            ),
            secure_cookie: policy.secure_cookie,
            public_reads: policy.public_reads,
        }
    }

    /// Sessions kept in `store` (several instances), this instance caching them.
    pub fn with_session_store(mut self, store: Arc<dyn SessionStore>) -> Self {
        self.sessions = self.sessions.with_store(store);
        self
    }

    /// Makes sure a session cookie in these headers is known here if it is known anywhere (a login on another
    /// instance): the checks after it are then answered from this instance's cache.
    pub async fn learn_session(&self, headers: &HeaderMap) {
        if let Some(id) = session_cookie(headers) {
            self.sessions.learn(id).await;
        }
    }

    /// Whether reads need no credential.
    pub fn reads_are_public(&self) -> bool {
        self.public_reads
    }

    /// Whether a request with these parts may read the home's state: reads are public, or it carries the token
    /// (checked and throttled like a write's) or a live session.
    pub fn may_read(&self, parts: &Parts) -> Result<bool, ApiError> {
        if self.public_reads || self.has_session(&parts.headers) {
            return Ok(true);
        }
        match bearer(&parts.headers) {
            Some(token) => self.check_token(token, client_ip(parts)),
            None => Ok(false),
        }
    }

    /// Checks `offered` against the token for a client, counting a failure; refused outright (429) while the
    /// client is over its failures, right token or not.
    pub fn check_token(&self, offered: &str, client: Option<IpAddr>) -> Result<bool, ApiError> {
        if let Some(retry_after) = self.throttle.blocked(client) {
            return Err(ApiError::TooManyAttempts { retry_after });
        }
        let ok = self.is_token(offered);
        if !ok {
            self.throttle.failed(client);
        }
        Ok(ok)
    }

    /// Refuses (429) a client that is over its failed attempts, before any credential of its is looked at.
    pub fn refuse_if_blocked(&self, client: Option<IpAddr>) -> Result<(), ApiError> {
        match self.throttle.blocked(client) {
            Some(retry_after) => Err(ApiError::TooManyAttempts { retry_after }),
            None => Ok(()),
        }
    }

    /// Counts a failed attempt with a credential other than the token (a Mercure token that did not verify),
    /// against the same allowance as a wrong token.
    pub fn count_failure(&self, client: Option<IpAddr>) {
        self.throttle.failed(client);
    }

    /// The `Set-Cookie` value for a session (or, with an empty id, for ending one).
    pub fn session_cookie(&self, id: &str) -> String {
        let max_age = if id.is_empty() {
            0
        } else {
            self.sessions.policy().absolute.as_secs()
        };
        let secure = if self.secure_cookie { "; Secure" } else { "" };
        format!(
            "{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
        )
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

/// The client's address, as the connection layer recorded it.
pub fn client_ip(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

/// The client's address as an extractor (`None` when the request did not come over a socket, as in a test).
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(client_ip(parts)))
    }
}

/// The bearer token in these headers, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The value of the session cookie in these headers, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, SESSION_COOKIE)
}

/// The value of the cookie `wanted` in these headers, if any.
pub fn cookie<'a>(headers: &'a HeaderMap, wanted: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| value)
}

/// A cookie-carrying write must come from a page of ours: browsers send `Origin` on every POST, and it must
/// name the host the request was sent to.
pub fn same_origin(headers: &HeaderMap) -> bool {
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

/// Proof that the request may read the home's state (the dashboard's data, its streams, the metrics). Reads are
/// open on loopback; listening on any other address they need the token or a session, unless `--public-read`.
pub struct Reader;

impl<S> FromRequestParts<S> for Reader
where
    S: Send + Sync,
    Arc<Auth>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = Arc::<Auth>::from_ref(state);
        auth.learn_session(&parts.headers).await;
        if auth.may_read(parts)? {
            Ok(Reader)
        } else {
            Err(ApiError::Unauthorized)
        }
    }
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
        auth.learn_session(&parts.headers).await;
        if let Some(token) = bearer(&parts.headers) {
            return if auth.check_token(token, client_ip(parts))? {
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
        let (configured, _) =
            resolve_token(Some(&Secret::new("mine-and-long-enough")), &dir).unwrap();
        assert_eq!(configured.expose(), "mine-and-long-enough");
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
    fn a_short_token_is_refused_with_the_reason() {
        let dir = std::env::temp_dir().join(format!("hearth-token-short-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let err = resolve_token(Some(&Secret::new("hunter2")), &dir).unwrap_err();
        assert!(err.to_string().contains("at least 16"), "{err}");
        std::fs::write(dir.join(TOKEN_FILE), "short").unwrap();
        let err = resolve_token(None, &dir).unwrap_err();
        assert!(err.to_string().contains("token"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_session_cookie_says_how_long_it_lives_and_secure_when_asked() {
        let policy = AuthPolicy {
            sessions: SessionPolicy::default(),
            secure_cookie: true,
            failures_per_minute: 10,
            public_reads: true,
        };
        let auth = Auth::new(Secret::new("a-token-long-enough"), policy);
        let cookie = auth.session_cookie("abc");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
        assert!(cookie.contains(&format!("Max-Age={}", policy.sessions.absolute.as_secs())));
        assert!(cookie.ends_with("; Secure"), "{cookie}");
        assert!(auth.session_cookie("").contains("Max-Age=0"));
    }

    #[test]
    fn random_tokens_are_long_and_distinct() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 48);
        assert_ne!(a, b);
    }
}
