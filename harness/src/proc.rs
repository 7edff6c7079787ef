//! The host's process table and process identity live in [`crate::host::proc`]; this path stays
//! for the callers that name it (and `shakedown::proc::{all, alive}` in the integration tests).

pub use crate::host::proc::*;
