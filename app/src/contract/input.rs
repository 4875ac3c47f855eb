//! Input newtypes ("parse, don't validate"): what a user types becomes one of these or a clear error,
//! on the server and in the browser alike.

use serde::Serialize;

/// Why a piece of input was refused, phrased for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
pub enum InputError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters (got {got})")]
    TooLong { max: usize, got: usize },
    #[error("must not contain control characters other than line breaks and tabs")]
    ControlCharacter,
    #[error("must be lowercase letters and digits joined by single dashes, like living-room")]
    NotASlug,
    /// For a name a slug is made from (an area's): "%%%" has nothing to make one of.
    #[error("needs at least one letter or digit")]
    NoLetterOrDigit,
}

/// The text of a posted message: trimmed, non-empty, at most [`MessageBody::MAX_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageBody(String);

impl MessageBody {
    pub const MAX_CHARS: usize = 1000;

    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(InputError::Empty);
        }
        let got = text.chars().count();
        if got > Self::MAX_CHARS {
            return Err(InputError::TooLong {
                max: Self::MAX_CHARS,
                got,
            });
        }
        if text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(InputError::ControlCharacter);
        }
        Ok(MessageBody(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn blank_and_oversized_messages_are_refused() {
        assert_eq!(MessageBody::parse("  \n"), Err(InputError::Empty));
        let long = "x".repeat(MessageBody::MAX_CHARS + 1);
        assert!(matches!(
            MessageBody::parse(&long),
            Err(InputError::TooLong { got: 1001, .. })
        ));
        assert_eq!(
            MessageBody::parse("bell\u{7}"),
            Err(InputError::ControlCharacter)
        );
    }

    #[test]
    fn messages_are_trimmed_and_keep_line_breaks() {
        let body = MessageBody::parse("  hello\nworld  ").unwrap();
        assert_eq!(body.as_str(), "hello\nworld");
    }

    proptest! {
        #[test]
        fn any_accepted_message_is_trimmed_and_within_bounds(raw in "\\PC{0,1200}") {
            if let Ok(body) = MessageBody::parse(&raw) {
                prop_assert_eq!(body.as_str(), body.as_str().trim());
                prop_assert!(!body.as_str().is_empty());
                prop_assert!(body.as_str().chars().count() <= MessageBody::MAX_CHARS);
            }
        }
    }
}
