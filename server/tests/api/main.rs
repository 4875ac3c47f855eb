//! Hearth's server, tested from the outside: the real server on port 0, real TCP, the project's own SSE parser.
//! One test binary (faster to build and link than one per file); one module per concern.

mod helpers;

mod framing;
mod jobs;
mod limits;
mod ops;
mod resume;
mod slow_consumer;
mod streams;
mod writes;
