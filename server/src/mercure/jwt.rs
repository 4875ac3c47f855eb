//! Mercure's tokens: JWS in compact form, signed with HS256 (a shared secret) or RS256 (the signer's public key
//! is configured), with a `mercure` claim holding `publish` and `subscribe` selectors and a free `payload`.
//!
//! Verification is `jsonwebtoken`'s; what is chosen here is what clients actually send: `exp` is honoured when
//! present but not required (several publishers sign none), `nbf` is honoured, `iat` and every other claim are
//! ignored, and `aud`/`iss` are not checked (the protocol revision the stable hub speaks does not define them).
//! There is no leeway: a token is expired at its `exp`, which is also when a subscriber's stream is closed.
//! Publishers and subscribers may have different keys; the subscribers' key defaults to the publishers'.

use crate::config::{Config, JwtAlgorithm};
use anyhow::Context;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::collections::HashSet;

/// The `mercure` claim.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MercureClaim {
    /// Selectors of the topics the holder may publish to (absent or empty: none).
    pub publish: Option<Vec<String>>,
    /// Selectors of the topics whose private updates the holder may receive.
    pub subscribe: Option<Vec<String>>,
    /// Shared with other subscribers in subscription events.
    pub payload: Option<serde_json::Value>,
}

/// What a verified token says.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Claims {
    #[serde(default)]
    pub mercure: MercureClaim,
    /// When the token stops being valid (seconds since the epoch; some signers write a fraction).
    pub exp: Option<f64>,
}

/// Why a token was refused (answered 401, with this as the reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet (nbf)")]
    NotYetValid,
    #[error("the token's signature does not verify with the configured key")]
    BadSignature,
    #[error("the token is not signed with the configured algorithm")]
    WrongAlgorithm,
    #[error("the token is not a well-formed JWS: {0}")]
    Malformed(String),
    #[error(
        "no key is configured to verify Mercure tokens for this (set --mercure-publisher-jwt-key)"
    )]
    NoKey,
}

/// One key and the rules tokens are checked by.
pub struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

impl Verifier {
    /// A verifier for `algorithm` with `key` (the secret, or a PEM public key).
    pub fn new(algorithm: JwtAlgorithm, key: &[u8]) -> anyhow::Result<Self> {
        let (key, algorithm) = match algorithm {
            JwtAlgorithm::Hs256 => (
                DecodingKey::from_secret(key).context("an HS256 key may not be empty")?,
                Algorithm::HS256,
            ),
            JwtAlgorithm::Rs256 => (
                DecodingKey::from_rsa_pem(key)
                    .context("an RS256 key must be an RSA public key in PEM")?,
                Algorithm::RS256,
            ),
        };
        let mut validation = Validation::new(algorithm);
        validation.required_spec_claims = HashSet::new();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.leeway = 0;
        Ok(Verifier { key, validation })
    }

    /// The claims of `token`, once its signature, `exp` and `nbf` check out.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::InvalidAlgorithm => TokenError::WrongAlgorithm,
                _ => TokenError::Malformed(e.to_string()),
            })
    }
}

/// The publishers' and the subscribers' verifiers, when keys are configured.
#[derive(Default)]
pub struct Keys {
    pub publisher: Option<Verifier>,
    pub subscriber: Option<Verifier>,
}

impl Keys {
    /// The keys the configuration names (a key file wins over nothing, a key given inline over its file is
    /// an error: one of the two). Fails at start-up, naming the setting, when a key cannot be read or used.
    pub fn from_config(config: &Config) -> anyhow::Result<Keys> {
        let algorithm = config.mercure_jwt_algorithm;
        let publisher = key_material(
            config
                .mercure_publisher_jwt_key
                .as_ref()
                .map(|k| k.expose()),
            config.mercure_publisher_jwt_key_file.as_deref(),
            "--mercure-publisher-jwt-key",
        )?;
        let subscriber = key_material(
            config
                .mercure_subscriber_jwt_key
                .as_ref()
                .map(|k| k.expose()),
            config.mercure_subscriber_jwt_key_file.as_deref(),
            "--mercure-subscriber-jwt-key",
        )?
        .or_else(|| publisher.clone());
        let verifier = |material: Option<Vec<u8>>, what: &str| {
            material
                .map(|m| Verifier::new(algorithm, &m).with_context(|| format!("{what}: unusable")))
                .transpose()
        };
        Ok(Keys {
            publisher: verifier(publisher, "--mercure-publisher-jwt-key")?,
            subscriber: verifier(subscriber, "--mercure-subscriber-jwt-key")?,
        })
    }
}

fn key_material(
    inline: Option<&str>,
    file: Option<&std::path::Path>,
    what: &str,
) -> anyhow::Result<Option<Vec<u8>>> {
    match (inline.filter(|k| !k.is_empty()), file) {
        (Some(_), Some(_)) => anyhow::bail!("{what} and {what}-file are both set: give one"),
        (Some(key), None) => Ok(Some(key.as_bytes().to_vec())),
        (None, Some(path)) => {
            let text = std::fs::read(path)
                .with_context(|| format!("{what}-file: cannot read {}", path.display()))?;
            // A secret kept in a file usually ends with a newline its writer added; it is not part of the key.
            let end = text
                .iter()
                .rposition(|b| !b.is_ascii_whitespace())
                .map_or(0, |i| i + 1);
            Ok(Some(text[..end].to_vec()))
        }
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    const SECRET: &[u8] = b"!ChangeThisMercureHubJWTSecretKey!";

    fn sign(claims: serde_json::Value) -> String {
        encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(SECRET).unwrap(),
        )
        .unwrap()
    }

    fn now() -> f64 {
        jsonwebtoken::get_current_timestamp() as f64
    }

    fn verifier() -> Verifier {
        Verifier::new(JwtAlgorithm::Hs256, SECRET).unwrap()
    }

    #[test]
    fn tokens_without_exp_and_with_iat_are_accepted() {
        let claims = verifier()
            .verify(&sign(json!({"mercure": {"publish": ["*"]}, "iat": now()})))
            .unwrap();
        assert_eq!(claims.mercure.publish, Some(vec!["*".to_owned()]));
        assert!(claims.exp.is_none());
        let claims = verifier().verify(&sign(json!({}))).unwrap();
        assert!(claims.mercure.subscribe.is_none());
    }

    #[test]
    fn expired_not_yet_valid_forged_and_malformed_tokens_are_refused_with_their_reason() {
        let v = verifier();
        assert_eq!(
            v.verify(&sign(json!({"exp": now() - 1.0}))).unwrap_err(),
            TokenError::Expired
        );
        assert_eq!(
            v.verify(&sign(json!({"nbf": now() + 60.0}))).unwrap_err(),
            TokenError::NotYetValid
        );
        let other = Verifier::new(JwtAlgorithm::Hs256, b"another key").unwrap();
        assert_eq!(
            other.verify(&sign(json!({}))).unwrap_err(),
            TokenError::BadSignature
        );
        assert!(matches!(
            v.verify("not.a.token").unwrap_err(),
            TokenError::Malformed(_)
        ));
        assert!(
            v.verify(&sign(json!({"exp": now() + 60.5}))).is_ok(),
            "a fractional exp"
        );
    }

    #[test]
    fn an_rs256_key_must_be_a_pem_public_key() {
        assert!(Verifier::new(JwtAlgorithm::Rs256, b"not a pem").is_err());
        assert!(Verifier::new(JwtAlgorithm::Hs256, b"").is_err());
    }
}
