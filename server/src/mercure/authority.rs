//! Who is asking, at `/.well-known/mercure`: Hearth's owner (its write token, or a dashboard session), the
//! holder of a verified Mercure token, or nobody in particular.
//!
//! Where the token is read from follows the protocol: the `Authorization: Bearer` header when there is one (then
//! nothing else is looked at), else the `authorization` query parameter, else the `mercureAuthorization` cookie.
//! A bearer value that is Hearth's write token is the owner, who may do anything a token could allow. A token
//! that does not verify is a failed attempt, counted against the client like a wrong write token.

use super::jwt::{Claims, TokenError, Verifier};
use crate::auth::{bearer, cookie, same_origin, Auth};
use axum::http::{header, HeaderMap};
use std::net::IpAddr;

/// The cookie a browser carries a Mercure token in.
pub const COOKIE: &str = "mercureAuthorization";

/// Who the request comes from.
#[derive(Debug, Clone)]
pub enum Authority {
    /// Hearth's owner: its write token, or a dashboard session (for a write, from our own origin).
    Owner,
    /// A verified Mercure token.
    Token(Claims),
    /// No credential at all.
    Anonymous,
}

/// The token a request presents, from where the protocol says to look, in that order.
fn presented<'a>(headers: &'a HeaderMap, query: Option<&'a str>) -> Option<&'a str> {
    if headers.contains_key(header::AUTHORIZATION) {
        // An Authorization header is used, whatever else the request carries; one that is not a bearer
        // credential is an empty one.
        return Some(bearer(headers).unwrap_or(""));
    }
    if let Some(token) = query {
        return Some(token.trim());
    }
    cookie(headers, COOKIE).map(str::trim)
}

/// Works out who is asking. `write` says the request changes something (a publish): a session then counts only
/// from our own origin. `verifier` checks Mercure tokens for this kind of request (none configured: only
/// Hearth's credential is known).
pub fn authority(
    auth: &Auth,
    verifier: Option<&Verifier>,
    headers: &HeaderMap,
    query_token: Option<&str>,
    client: Option<IpAddr>,
    write: bool,
) -> Result<Authority, crate::error::ApiError> {
    auth.refuse_if_blocked(client)?;
    match presented(headers, query_token) {
        Some(token) if auth.is_token(token) => Ok(Authority::Owner),
        Some(token) => {
            let verified = match verifier {
                Some(verifier) => verifier.verify(token),
                None => Err(TokenError::NoKey),
            };
            verified.map(Authority::Token).map_err(|e| {
                auth.count_failure(client);
                crate::error::ApiError::MercureUnauthorized(e.to_string())
            })
        }
        None if auth.has_session(headers) && (!write || same_origin(headers)) => {
            Ok(Authority::Owner)
        }
        None => Ok(Authority::Anonymous),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(
                header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn the_header_wins_then_the_query_then_the_cookie() {
        let cookie = ("cookie", "a=1; mercureAuthorization=from-cookie");
        let h = headers(&[("authorization", "Bearer from-header"), cookie]);
        assert_eq!(presented(&h, Some("from-query")), Some("from-header"));
        let h = headers(&[cookie]);
        assert_eq!(presented(&h, Some("from-query")), Some("from-query"));
        assert_eq!(presented(&h, None), Some("from-cookie"));
        assert_eq!(presented(&headers(&[]), None), None);
        let basic = headers(&[("authorization", "Basic abc")]);
        assert_eq!(presented(&basic, Some("q")), Some(""), "the header is used");
    }
}
