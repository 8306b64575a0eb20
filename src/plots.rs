//! SVG figures of an evaluation: the confusion matrix and one-vs-rest ROC
//! curves, drawn with plotters' SVG backend (text stays text, so no fonts
//! are needed to write them).

use std::path::Path;

use plotters::prelude::*;

use crate::metrics::{roc_curve, Report};

/// Why a figure could not be written.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct PlotError {
    path: std::path::PathBuf,
    message: String,
}

fn fail(path: &Path) -> impl Fn(String) -> PlotError + '_ {
    move |message| PlotError { path: path.to_path_buf(), message }
}

/// The confusion matrix, rows true and columns predicted, each cell shaded
/// by the share of its row (so rare classes read as clearly as common ones)
/// and labelled with its count.
pub fn confusion_svg(report: &Report, title: &str, path: &Path) -> Result<(), PlotError> {
    let err = fail(path);
    let k = report.confusion.len();
    let classes: Vec<&str> = report.per_class.iter().map(|c| c.class.as_str()).collect();
    let root = SVGBackend::new(path, (160 + 90 * k as u32, 140 + 90 * k as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(90)
        // A segmented range 0..n has n + 1 segments.
        .build_cartesian_2d((0..k - 1).into_segmented(), (0..k - 1).into_segmented())
        .map_err(|e| err(e.to_string()))?;
    let label = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) => classes.get(*i).map_or(String::new(), |c| c.to_string()),
        _ => String::new(),
    };
    // Row 0 at the top, as confusion matrices are read.
    let flip = |row: usize| k - 1 - row;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("predicted")
        .y_desc("true")
        .x_label_formatter(&label)
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) if *i < k => classes[flip(*i)].to_string(),
            _ => String::new(),
        })
        .draw()
        .map_err(|e| err(e.to_string()))?;
    for (t, row) in report.confusion.iter().enumerate() {
        let total = row.iter().sum::<usize>().max(1) as f64;
        for (p, &count) in row.iter().enumerate() {
            let share = count as f64 / total;
            let shade = (255.0 * (1.0 - 0.8 * share)) as u8;
            let y = flip(t);
            let cell = [(SegmentValue::Exact(p), SegmentValue::Exact(y)), (SegmentValue::Exact(p + 1), SegmentValue::Exact(y + 1))];
            chart.draw_series(std::iter::once(Rectangle::new(cell, RGBColor(shade, shade, 255).filled()))).map_err(|e| err(e.to_string()))?;
            let ink = if share > 0.6 { WHITE } else { BLACK };
            chart
                .draw_series(std::iter::once(Text::new(
                    format!("{count}"),
                    (SegmentValue::CenterOf(p), SegmentValue::CenterOf(y)),
                    ("sans-serif", 16).into_font().color(&ink),
                )))
                .map_err(|e| err(e.to_string()))?;
        }
    }
    root.present().map_err(|e| err(e.to_string()))
}

/// One-vs-rest ROC curves, one per class present, with their AUC in the
/// legend, over the chance diagonal.
pub fn roc_svg(report: &Report, truth: &[usize], probs: &[Vec<f32>], title: &str, path: &Path) -> Result<(), PlotError> {
    let err = fail(path);
    let root = SVGBackend::new(path, (560, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..1.0f64, 0.0..1.0f64)
        .map_err(|e| err(e.to_string()))?;
    chart.configure_mesh().x_desc("false positive rate").y_desc("true positive rate").draw().map_err(|e| err(e.to_string()))?;
    chart.draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], BLACK.mix(0.3))).map_err(|e| err(e.to_string()))?;
    for (c, metrics) in report.per_class.iter().enumerate() {
        let scores: Vec<f32> = probs.iter().map(|p| p[c]).collect();
        let positive: Vec<bool> = truth.iter().map(|&t| t == c).collect();
        let (Some(curve), Some(auc)) = (roc_curve(&scores, &positive), metrics.roc_auc) else { continue };
        let color = Palette99::pick(c).to_rgba();
        chart
            .draw_series(LineSeries::new(curve, color.stroke_width(2)))
            .map_err(|e| err(e.to_string()))?
            .label(format!("{} (AUC {auc:.3})", metrics.class))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.4))
        .draw()
        .map_err(|e| err(e.to_string()))?;
    root.present().map_err(|e| err(e.to_string()))
}
