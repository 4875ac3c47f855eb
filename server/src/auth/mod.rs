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
//! address ([`throttle`]), wherever a token is offered: a write, a read, a login, a place kept for the owner
//! (a stream's or a connection's), since each answer tells a right token from a wrong one. A request's
//! credential is decided once ([`Credential`]) and remembered with the request, so a wrong token counts once
//! however many extractors ask. With several instances, a session cookie this instance does not know is looked
//! up in the shared store only if it is a well-formed session id, and at most [`SESSION_LOOKUPS_PER_MINUTE`]
//! times a minute per client address: a request with a made-up cookie costs no round trip, and a flood of them
//! only its own address's budget. The extractors need only [`Auth`], taken from whatever state the router has
//! through `FromRef`.

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

const MINUTE: std::time::Duration = std::time::Duration::from_secs(60);

/// A write token shorter than this is refused at start-up: it could be guessed.
pub const MIN_TOKEN_CHARS: usize = 16;

/// Random bytes in a generated token or session id (written as twice as many hex digits).
const RANDOM_BYTES: usize = 24;

/// Session ids this instance does not know that one client address may have looked up in the shared store per
/// minute: a dashboard needs one per login it has not seen yet; made-up ids get no more.
pub const SESSION_LOOKUPS_PER_MINUTE: u32 = 60;

/// Where the token came from, so `main` can tell the user once.
#[derive(Debug)]
pub enum TokenSource {
    Configured,
    Stored,
    /// Newly generated: print it, this is the only time.
    Generated,
}

/// A fresh random credential: 24 bytes from the OS's generator, as lowercase hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; RANDOM_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `id` could be a session id this server made ([`random_token`]'s shape): anything else is not
/// looked up anywhere.
fn is_session_id(id: &str) -> bool {
    id.len() == 2 * RANDOM_BYTES && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
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
    /// Lookups of unknown session ids in the shared store, per client.
    lookups: Throttle,
    /// Sessions live in a store shared with other instances.
    shared_sessions: bool,
    secure_cookie: bool,
    public_reads: bool,
}

/// What a request's credentials came to. A bearer token, when there is one, decides; else a session cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    None,
    Session,
    Token,
    /// A bearer token that is not the token (counted as a failed attempt).
    WrongToken,
}

impl Credential {
    /// May use what is kept for the owner (reserved stream and connection places).
    pub fn is_privileged(self) -> bool {
        matches!(self, Credential::Token | Credential::Session)
    }
}

impl Auth {
    pub fn new(token: Secret, policy: AuthPolicy) -> Self {
        Auth {
            token,
            sessions: Sessions::new(policy.sessions),
            throttle: Throttle::new(policy.failures_per_minute, MINUTE),
            lookups: Throttle::new(SESSION_LOOKUPS_PER_MINUTE, MINUTE),
            shared_sessions: false,
            secure_cookie: policy.secure_cookie,
            public_reads: policy.public_reads,
        }
    }

    /// Sessions kept in `store` (several instances), this instance caching them.
    pub fn with_session_store(mut self, store: Arc<dyn SessionStore>) -> Self {
        self.sessions = self.sessions.with_store(store);
        self.shared_sessions = true;
        self
    }

    /// Makes sure a session cookie in these headers is known here if it is known anywhere (a login on another
    /// instance): the checks after it are then answered from this instance's cache. Only a well-formed id is
    /// looked up; one not known here only within `client`'s lookup budget (past it, it counts as unknown).
    pub async fn learn_session(&self, headers: &HeaderMap, client: Option<IpAddr>) {
        if !self.shared_sessions {
            return;
        }
        let Some(id) = session_cookie(headers).filter(|id| is_session_id(id)) else {
            return;
        };
        if !self.sessions.contains(id) {
            if self.lookups.blocked(client).is_some() {
                tracing::debug!("session lookups over this client's budget; not looked up");
                return;
            }
            self.lookups.count(client);
        }
        self.sessions.learn(id).await;
    }

    /// The request's credential, decided once and kept in its extensions: a bearer token is checked (a wrong
    /// one counts as a failed attempt; 429 while the client is over its failures), else a session cookie is
    /// learned and checked.
    pub async fn credential(&self, parts: &mut Parts) -> Result<Credential, ApiError> {
        if let Some(known) = parts.extensions.get::<Credential>() {
            return Ok(*known);
        }
        let client = client_ip(parts);
        let credential = match bearer(&parts.headers) {
            Some(token) => match self.check_token(token, client)? {
                true => Credential::Token,
                false => Credential::WrongToken,
            },
            None => {
                self.learn_session(&parts.headers, client).await;
                match self.has_session(&parts.headers) {
                    true => Credential::Session,
                    false => Credential::None,
                }
            }
        };
        parts.extensions.insert(credential);
        Ok(credential)
    }

    /// Whether a request with this credential may read the home's state: reads are public, or it has the token
    /// or a live session.
    pub fn may_read(&self, credential: Credential) -> bool {
        self.public_reads || credential.is_privileged()
    }

    /// Whether reads need no credential.
    pub fn reads_are_public(&self) -> bool {
        self.public_reads
    }

    /// Checks `offered` against the token for a client, counting a failure; refused outright (429) while the
    /// client is over its failures, right token or not.
    pub fn check_token(&self, offered: &str, client: Option<IpAddr>) -> Result<bool, ApiError> {
        if let Some(retry_after) = self.throttle.blocked(client) {
            return Err(ApiError::TooManyAttempts { retry_after });
        }
        let ok = self.is_token(offered);
        if !ok {
            self.throttle.count(client);
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
        self.throttle.count(client);
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

    /// Whether a request head carries the write token or a session known here: such requests may use the
    /// connections kept in reserve for them (a flood of strangers cannot lock the owner out). A token is checked
    /// as everywhere (throttled, a wrong one counted: over its failures a client is not privileged). For the
    /// connection layer, which has no request to remember the answer in: a request it lets in on a regular place
    /// anyway has its wrong token counted again by the route.
    pub fn is_privileged(&self, parts: &Parts) -> bool {
        match bearer(&parts.headers) {
            Some(token) => self.check_token(token, client_ip(parts)).unwrap_or(false),
            None => self.has_session(&parts.headers),
        }
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
        let credential = auth.credential(parts).await?;
        if auth.may_read(credential) {
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
        match auth.credential(parts).await? {
            Credential::Token => Ok(Writer),
            Credential::Session if same_origin(&parts.headers) => Ok(Writer),
            Credential::Session => {
                Err(ApiError::Forbidden("cross-origin write refused".to_owned()))
            }
            Credential::WrongToken | Credential::None => Err(ApiError::Unauthorized),
        }
    }
}

/// The request's credential as an extractor ([`Auth::credential`]): for routes that serve anyone but keep
/// something for the owner (a reserved stream place).
impl<S> FromRequestParts<S> for Credential
where
    S: Send + Sync,
    Arc<Auth>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Arc::<Auth>::from_ref(state).credential(parts).await
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

    /// A session store that knows no session and counts the lookups it is asked for.
    #[derive(Default)]
    struct CountingStore(std::sync::atomic::AtomicUsize);

    impl CountingStore {
        fn lookups(&self) -> usize {
            self.0.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    impl SessionStore for CountingStore {
        fn put(
            &self,
            _: &str,
            _: i64,
            _: std::time::Duration,
        ) -> futures::future::BoxFuture<'static, Result<(), String>> {
            Box::pin(async { Ok(()) })
        }
        fn created(
            &self,
            _: &str,
        ) -> futures::future::BoxFuture<'static, Result<Option<i64>, String>> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Box::pin(async { Ok(None) })
        }
        fn remove(&self, _: &str) -> futures::future::BoxFuture<'static, Result<(), String>> {
            Box::pin(async { Ok(()) })
        }
    }

    fn auth_with(store: Arc<CountingStore>) -> Auth {
        let policy = AuthPolicy {
            sessions: SessionPolicy::default(),
            secure_cookie: false,
            failures_per_minute: 10,
            public_reads: false,
        };
        Auth::new(Secret::new("a-token-long-enough"), policy).with_session_store(store)
    }

    fn with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            format!("{SESSION_COOKIE}={value}").parse().unwrap(),
        );
        headers
    }

    #[tokio::test]
    async fn a_cookie_that_is_not_a_session_id_never_reaches_the_store() {
        let store = Arc::new(CountingStore::default());
        let auth = auth_with(store.clone());
        let malformed = [
            String::new(),
            "x".to_owned(),
            "../../etc/passwd".to_owned(),
            "a".repeat(4096),
            random_token().to_uppercase(),
            "g".repeat(48),
            format!("{}0", random_token()),
            random_token()[1..].to_owned(),
        ];
        for value in &malformed {
            auth.learn_session(&with_cookie(value), None).await;
        }
        assert_eq!(store.lookups(), 0, "no malformed id was looked up");

        auth.learn_session(&with_cookie(&random_token()), None)
            .await;
        assert_eq!(store.lookups(), 1, "a well-formed one is");
    }

    #[tokio::test]
    async fn lookups_of_session_ids_unknown_here_are_bounded_per_client() {
        let store = Arc::new(CountingStore::default());
        let auth = auth_with(store.clone());
        let flooder: IpAddr = "10.0.0.1".parse().unwrap();
        let neighbour: IpAddr = "10.0.0.2".parse().unwrap();

        for _ in 0..SESSION_LOOKUPS_PER_MINUTE * 3 {
            auth.learn_session(&with_cookie(&random_token()), Some(flooder))
                .await;
        }
        let flooded = store.lookups();
        auth.learn_session(&with_cookie(&random_token()), Some(neighbour))
            .await;

        assert_eq!(flooded, SESSION_LOOKUPS_PER_MINUTE as usize);
        assert_eq!(
            store.lookups(),
            flooded + 1,
            "another address has its own budget"
        );
    }

    #[test]
    fn random_tokens_are_long_and_distinct() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 48);
        assert_ne!(a, b);
    }
}
