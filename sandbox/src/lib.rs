//! The native engine's work, in processes of its own: a hostile file can take over FFmpeg in the
//! process that reads it, and nothing else.
//!
//! - [`work`]: a piece of work on one video ([`work::Work`]: a probe, a thumbnail, a contact
//!   sheet, a series of frames) and [`work::run`], which does it with the engine.
//! - [`encode`]: its images as PNG, JPEG, WebP or an animated WebP.
//! - [`failure`]: why it gave nothing ([`failure::Failure`], also `work::Failure`).
//! - [`process`]: the engine process, which runs ONE piece of work (the video passed as a
//!   descriptor over a Unix socket) and exits; [`process::EngineProcess`] is its handle on the
//!   caller's side.
//! - [`launcher`]: the process that forks engine processes: the caller's own binary started once
//!   with [`launcher::LAUNCHER_FLAG`].
//! - [`spares`]: engine processes launched ahead, so that a piece of work never waits for one.
//! - [`confine`]: what the launcher and the engine processes may still do (no core dumps,
//!   Landlock, seccomp, rlimits), and [`SandboxStatus`], what this kernel enforces of it.

pub mod confine;
pub mod encode;
pub mod failure;
pub mod launcher;
pub mod process;
pub mod spares;
pub mod work;

pub use confine::SandboxStatus;
