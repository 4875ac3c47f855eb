//! A request body must arrive whole within a deadline, however it is framed.
//!
//! hyper bounds how long a request head may take, never a body: a body sent a byte at a time (with a length, or
//! chunked) holds its connection for as long as the client likes, and the gate cannot frame every body itself
//! (it hands a chunked one to hyper). So the deadline is kept here, around the body the application reads: it
//! runs from the moment the head is complete, and when it passes the body fails with [`BodyTooSlow`]. The handler
//! reading it answers (408), hyper sees the body was not read to its end and closes the connection. A handler
//! that never reads its body answers at once, and hyper closes the connection the same way.

use super::metrics::ServeMetrics;
use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Sleep;

/// The error a body fails with once its deadline passed.
#[derive(Debug)]
pub struct BodyTooSlow {
    pub after: Duration,
}

impl std::fmt::Display for BodyTooSlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the request body did not arrive whole within {} s",
            self.after.as_secs()
        )
    }
}

impl std::error::Error for BodyTooSlow {}

/// The [`BodyTooSlow`] that `error` is, or was made from (the application's extractors wrap it), if any.
pub fn body_too_slow<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a BodyTooSlow> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(slow) = error.downcast_ref::<BodyTooSlow>() {
            return Some(slow);
        }
        next = error.source();
    }
    None
}

/// A request body that fails once `after` has passed since it was made, unless it ended before.
pub struct DeadlineBody {
    inner: Incoming,
    after: Duration,
    /// Boxed: a `Sleep` is large, and only requests with a body carry one.
    deadline: Pin<Box<Sleep>>,
    metrics: Arc<ServeMetrics>,
    /// The deadline passed: the body has failed, and ends.
    expired: bool,
}

impl DeadlineBody {
    pub fn new(inner: Incoming, after: Duration, metrics: Arc<ServeMetrics>) -> Self {
        DeadlineBody {
            inner,
            after,
            deadline: Box::pin(tokio::time::sleep(after)),
            metrics,
            expired: false,
        }
    }
}

impl Body for DeadlineBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.expired {
            return Poll::Ready(None);
        }
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if this.deadline.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        this.expired = true;
        this.metrics.timed_out.inc();
        Poll::Ready(Some(Err(Box::new(BodyTooSlow { after: this.after }))))
    }

    fn is_end_stream(&self) -> bool {
        self.expired || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_too_slow_body_is_recognised_however_deeply_it_is_wrapped() {
        let slow = BodyTooSlow {
            after: Duration::from_secs(3),
        };
        assert_eq!(
            slow.to_string(),
            "the request body did not arrive whole within 3 s"
        );
        let wrapped = axum::Error::new(axum::Error::new(slow));
        assert_eq!(
            body_too_slow(&wrapped).map(|slow| slow.after),
            Some(Duration::from_secs(3))
        );
        assert!(body_too_slow(&std::io::Error::other("reset")).is_none());
    }
}
