//! The write credential: resolving it at start-up and checking it on every write.
//!
//! The token comes from `HEARTH_TOKEN` or, when unset, is generated at first start, stored in the data
//! directory with owner-only permissions and printed once. Writes carry it as `Authorization: Bearer <token>`.

use crate::error::ApiError;
use crate::state::AppState;
use anyhow::Context;
use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};
use rand::RngCore;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

const TOKEN_FILE: &str = "token";

/// Where the token came from, so `main` can tell the user once.
pub enum TokenSource {
    Configured,
    Stored,
    /// Newly generated: print it, this is the only time.
    Generated,
}

/// Finds the write token: configured, stored, or newly generated and stored (0600).
pub fn resolve_token(configured: Option<&str>, data_dir: &Path) -> anyhow::Result<(String, TokenSource)> {
    if let Some(token) = configured.map(str::trim).filter(|t| !t.is_empty()) {
        return Ok((token.to_owned(), TokenSource::Configured));
    }
    let path = data_dir.join(TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok((text.trim().to_owned(), TokenSource::Stored)),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read the token file {}", path.display())),
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

/// Proof that the request may write. Extracting it checks the bearer token; without it the handler never runs,
/// so nothing is applied.
pub struct Writer;

impl FromRequestParts<AppState> for Writer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        match bearer {
            Some(token) if same_secret(token, &state.token) => Ok(Writer),
            _ => Err(ApiError::Unauthorized),
        }
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
        let mode = std::fs::metadata(dir.join(TOKEN_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (again, source) = resolve_token(None, &dir).unwrap();
        assert!(matches!(source, TokenSource::Stored));
        assert_eq!(first, again);
        let (configured, _) = resolve_token(Some("mine"), &dir).unwrap();
        assert_eq!(configured, "mine");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }
}
