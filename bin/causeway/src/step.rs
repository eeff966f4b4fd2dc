//! Which step of a benchmark's set-up or check failed, with the underlying error as text:
//! anyhow's `context`, without anyhow. Each benchmark's error type wraps [`StepFailed`].

use std::fmt::Display;

#[derive(Debug, thiserror::Error)]
#[error("{step}: {message}")]
pub struct StepFailed {
    pub step: String,
    pub message: String,
}

impl StepFailed {
    pub fn new(step: impl Display, message: impl Display) -> Self {
        Self {
            step: step.to_string(),
            message: message.to_string(),
        }
    }
}

/// Attaches the step that failed to an error, or to a missing value.
pub trait Context<T> {
    fn context(self, step: impl Display) -> Result<T, StepFailed>;
}

impl<T, E: Display> Context<T> for Result<T, E> {
    fn context(self, step: impl Display) -> Result<T, StepFailed> {
        self.map_err(|e| StepFailed::new(step, e))
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, step: impl Display) -> Result<T, StepFailed> {
        self.ok_or_else(|| StepFailed::new(step, "missing"))
    }
}
