//! Running scenarios: a [`session`] prepares a target and runs each planned scenario through the
//! [`runner`], whose steps run [`execute`]'s actions through their API in [`ctx`]; containers'
//! networks and volumes are [`resources`]; [`clean`] undoes what dead runs left; [`scenario`]
//! reads scenario files. Everything this crate changes goes through the ledger first, and it
//! reports only by appending to the journal.

pub mod clean;
pub mod ctx;
pub mod execute;
pub mod fs;
mod leak_scope;
pub mod resources;
pub mod runner;
pub mod scenario;
pub mod session;
