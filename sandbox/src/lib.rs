//! The native engine's work, in processes of its own: a hostile file can take over FFmpeg in the
//! process that reads it, and nothing else.
//!
//! - [`work`]: a piece of work on one video ([`work::Work`]: a probe, a thumbnail, a contact
//!   sheet, a series of frames) and [`work::run`], which does it with the engine.
//! - [`encode`]: its images as PNG, JPEG, WebP or an animated WebP.
//! - [`failure`]: why it gave nothing ([`failure::Failure`], also `work::Failure`).
//! - [`process`]: the process that runs work: the same binary started with
//!   [`process::ENGINE_PROCESS_FLAG`], one piece of work at a time over a Unix socket, the video
//!   passed as a descriptor; [`process::EngineProcess`] is its handle on the caller's side.
//! - `confine`: what such a process may still do once it has started (seccomp, Landlock, rlimits).

mod confine;
pub mod encode;
pub mod failure;
pub mod process;
pub mod work;
