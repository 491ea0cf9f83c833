//! One file per CLI verb.

pub mod attest;
pub mod broker;
pub mod create;
pub mod delete;
pub mod demo;
pub mod events;
pub mod exec;
pub mod features;
pub mod kill;
pub mod list;
pub mod pause;
pub mod policy;
pub mod ps;
pub mod resume;
pub mod run;
pub mod sign;
pub mod spec;
pub mod start;
pub mod state;
pub mod update;
pub mod verify;
