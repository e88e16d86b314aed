//! Line plots written as SVG with plotters' SVG backend.

use std::path::Path;

use plotters::coord::combinators::IntoLogRange;
use plotters::prelude::*;

use crate::error::{ExperimentError, Result};

/// Colours of the series, in order (colour-blind-friendly Okabe–Ito palette).
const COLORS: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
];

/// One line of a plot.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// The points (non-finite points, non-positive ones on log axes and those beyond
    /// [`LIMIT`] are dropped).
    pub points: Vec<(f64, f64)>,
    /// Index into the palette.
    pub color: usize,
    /// Dashed line (reference values, bounds).
    pub dashed: bool,
    /// Draw markers at the points.
    pub markers: bool,
}

/// A plot.
#[derive(Clone, Debug, PartialEq)]
pub struct Plot {
    /// Title.
    pub title: String,
    /// X axis label.
    pub x_label: String,
    /// Y axis label.
    pub y_label: String,
    /// Logarithmic x axis.
    pub x_log: bool,
    /// Logarithmic y axis.
    pub y_log: bool,
    /// The lines.
    pub series: Vec<Series>,
    /// Where the legend goes.
    pub legend: Legend,
}

/// Legend position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Legend {
    /// Lower left corner.
    #[default]
    LowerLeft,
    /// Lower right corner.
    LowerRight,
    /// Upper left corner.
    UpperLeft,
    /// Upper right corner.
    UpperRight,
}

/// The largest magnitude drawn (and, on a log axis, `1/LIMIT` the smallest): axis ranges, their
/// padding and plotters' tick arithmetic stay finite and exact enough to terminate. Points
/// beyond it are left out and counted.
pub const LIMIT: f64 = 1e300;

fn keep_value(v: f64, log: bool) -> bool {
    v.is_finite() && v.abs() <= LIMIT && (!log || v >= 1.0 / LIMIT)
}

fn keep(p: &(f64, f64), x_log: bool, y_log: bool) -> bool {
    keep_value(p.0, x_log) && keep_value(p.1, y_log)
}

/// The axis range of `values` (all kept by [`keep_value`]), padded; never empty, never
/// infinite, and never so narrow relative to its magnitude that ticks cannot advance.
fn range(values: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() || !hi.is_finite() {
        return if log { (0.1, 10.0) } else { (0.0, 1.0) };
    }
    if log {
        // Less than a factor 1 + 1e-9 apart counts as one value.
        let (lo, hi) = if hi <= lo * (1.0 + 1e-9) {
            (lo / 2.0, hi * 2.0)
        } else {
            (lo, hi)
        };
        (lo / 1.3, hi * 1.3)
    } else {
        let scale = lo.abs().max(hi.abs());
        let pad = if hi - lo > scale * 1e-9 {
            (hi - lo) * 0.05
        } else {
            scale.max(1.0) * 0.05
        };
        (lo - pad, hi + pad)
    }
}

/// Draws `plot` to `path` (SVG, 720 × 480) and returns how many points were left out (not
/// finite, not positive on a log axis, or beyond [`LIMIT`]).
///
/// # Errors
/// [`ExperimentError::Plot`] when drawing or writing fails.
pub fn draw(plot: &Plot, path: &Path) -> Result<usize> {
    let err = |e: String| ExperimentError::Plot {
        path: path.to_path_buf(),
        what: e,
    };
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
    }
    let series: Vec<Series> = plot
        .series
        .iter()
        .map(|s| Series {
            points: s
                .points
                .iter()
                .copied()
                .filter(|p| keep(p, plot.x_log, plot.y_log))
                .collect(),
            ..s.clone()
        })
        .collect();
    let dropped = plot.series.iter().map(|s| s.points.len()).sum::<usize>()
        - series.iter().map(|s| s.points.len()).sum::<usize>();
    let xs = range(
        series.iter().flat_map(|s| s.points.iter().map(|p| p.0)),
        plot.x_log,
    );
    let ys = range(
        series.iter().flat_map(|s| s.points.iter().map(|p| p.1)),
        plot.y_log,
    );
    // Render into a string first, then write atomically.
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        macro_rules! body {
            ($chart:expr) => {{
                let mut chart = $chart;
                let label = |v: &f64| super::fmt(Some(*v));
                chart
                    .configure_mesh()
                    .x_desc(plot.x_label.as_str())
                    .y_desc(plot.y_label.as_str())
                    .x_label_formatter(&label)
                    .y_label_formatter(&label)
                    .light_line_style(RGBColor(235, 235, 235))
                    .draw()
                    .map_err(|e| err(e.to_string()))?;
                for s in &series {
                    if s.points.is_empty() {
                        continue;
                    }
                    let color = COLORS[s.color % COLORS.len()];
                    let style = color.stroke_width(2);
                    let anno = if s.dashed {
                        chart
                            .draw_series(DashedLineSeries::new(
                                s.points.iter().copied(),
                                6,
                                4,
                                style,
                            ))
                            .map_err(|e| err(e.to_string()))?
                    } else {
                        chart
                            .draw_series(LineSeries::new(s.points.iter().copied(), style))
                            .map_err(|e| err(e.to_string()))?
                    };
                    let dashed = s.dashed;
                    anno.label(s.label.as_str()).legend(move |(x, y)| {
                        let style = color.stroke_width(2);
                        let glyph = EmptyElement::at((x, y));
                        if dashed {
                            glyph
                                + PathElement::new(vec![(0, 0), (8, 0)], style)
                                + PathElement::new(vec![(12, 0), (20, 0)], style)
                        } else {
                            glyph
                                + PathElement::new(vec![(0, 0), (10, 0)], style)
                                + PathElement::new(vec![(10, 0), (20, 0)], style)
                        }
                    });
                    if s.markers {
                        chart
                            .draw_series(
                                s.points.iter().map(|&p| Circle::new(p, 3, color.filled())),
                            )
                            .map_err(|e| err(e.to_string()))?;
                    }
                }
                chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.85))
                    .border_style(RGBColor(200, 200, 200))
                    .position(match plot.legend {
                        Legend::LowerLeft => SeriesLabelPosition::LowerLeft,
                        Legend::LowerRight => SeriesLabelPosition::LowerRight,
                        Legend::UpperLeft => SeriesLabelPosition::UpperLeft,
                        Legend::UpperRight => SeriesLabelPosition::UpperRight,
                    })
                    .draw()
                    .map_err(|e| err(e.to_string()))?;
            }};
        }
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(plot.title.as_str(), ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(64);
        match (plot.x_log, plot.y_log) {
            (true, true) => body!(
                builder
                    .build_cartesian_2d((xs.0..xs.1).log_scale(), (ys.0..ys.1).log_scale())
                    .map_err(|e| err(e.to_string()))?
            ),
            (true, false) => body!(
                builder
                    .build_cartesian_2d((xs.0..xs.1).log_scale(), ys.0..ys.1)
                    .map_err(|e| err(e.to_string()))?
            ),
            (false, true) => body!(
                builder
                    .build_cartesian_2d(xs.0..xs.1, (ys.0..ys.1).log_scale())
                    .map_err(|e| err(e.to_string()))?
            ),
            (false, false) => body!(
                builder
                    .build_cartesian_2d(xs.0..xs.1, ys.0..ys.1)
                    .map_err(|e| err(e.to_string()))?
            ),
        }
        root.present().map_err(|e| err(e.to_string()))?;
    }
    crate::json::write_atomic(path, svg.as_bytes())?;
    Ok(dropped)
}
