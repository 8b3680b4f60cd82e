//! Why a piece of work gave nothing: the engine's verdict on the video (its vocabulary's code and
//! words), or a fault of ours.

use serde::{Deserialize, Serialize};
use thumbnail_vocabulary::{Error as EngineError, ErrorKind};

/// Why a piece of work failed: the engine's verdict on the video, or a fault of ours (encoding).
#[derive(Debug, Clone, Serialize, Deserialize, thiserror::Error)]
pub enum Failure {
    #[error("{message}")]
    Engine { code: String, message: String },
    #[error("{0}")]
    Internal(String),
}

impl From<EngineError> for Failure {
    fn from(e: EngineError) -> Failure {
        Failure::Engine {
            code: e.kind.name().to_owned(),
            message: e.message,
        }
    }
}

impl Failure {
    /// The engine error this stands for, if it is one.
    pub fn engine_error(&self) -> Option<EngineError> {
        match self {
            Failure::Engine { code, message } => Some(EngineError::new(ErrorKind::from_name(code)?, message.clone())),
            Failure::Internal(_) => None,
        }
    }
}
