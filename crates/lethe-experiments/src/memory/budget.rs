//! The memory check of a running point: once on the shape its config determines (before the
//! data are loaded), once on the loaded data (before training allocates anything large).

use super::estimate::{Shape, check_point};
use super::limit::MemoryLimit;
use crate::config::ExperimentConfig;
use crate::data::DataInfo;
use crate::error::{ExperimentError, Result};

/// What a point of a run may use: the limit, shared by the points that run at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PointBudget {
    /// The run's limit.
    pub limit: MemoryLimit,
    /// Points running at once (`--jobs`, at most the points to run); each gets
    /// `limit / concurrent`.
    pub concurrent: usize,
}

impl PointBudget {
    /// Refuses `cfg` when the shape its config alone determines ([`Shape::from_config`])
    /// already needs more than this point's share. The linear algebra runs on the current
    /// rayon pool, so its thread count is the number of per-thread copies.
    ///
    /// # Errors
    /// [`ExperimentError::TooLarge`].
    pub fn check_config(&self, cfg: &ExperimentConfig) -> Result<()> {
        match Shape::from_config(&cfg.dataset) {
            Some(shape) => self.check(cfg, &shape),
            None => Ok(()),
        }
    }

    /// Refuses `cfg` on the shape of its loaded data.
    ///
    /// # Errors
    /// [`ExperimentError::TooLarge`].
    pub fn check_data(&self, cfg: &ExperimentConfig, info: &DataInfo) -> Result<()> {
        let classes = info.classes.len();
        let shape = Shape {
            n_train: info.n_train,
            n_test: info.n_test,
            d: info.d,
            class_models: if classes > 2 { classes } else { 1 },
        };
        self.check(cfg, &shape)
    }

    fn check(&self, cfg: &ExperimentConfig, shape: &Shape) -> Result<()> {
        check_point(
            cfg,
            shape,
            rayon::current_num_threads(),
            self.concurrent,
            &self.limit,
        )
        .map(|_| ())
        .map_err(|issue| ExperimentError::TooLarge(Box::new(issue)))
    }
}
