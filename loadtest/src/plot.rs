//! Pictures of a run, drawn from its timeline as SVG beside its `--json` file: deliveries
//! per second and latency over time, and the server's memory against the sessions it
//! holds — one line per target, so gonghui and the peer share each picture.

use std::path::{Path, PathBuf};

use anyhow::Context;
use plotters::prelude::*;

use crate::report::Outcome;
use crate::timeline::Sample;

/// A point of a line read from a sample, if the sample has one.
type Point = fn(&Sample) -> Option<(f64, f64)>;

/// One picture: what it shows and how to read a point of it from a sample.
struct Chart {
    /// The file's suffix after the results' name.
    suffix: &'static str,
    title: &'static str,
    x_label: &'static str,
    y_label: &'static str,
    /// The lines drawn for each target, by name: a point per sample that has one.
    lines: &'static [(&'static str, Point)],
}

const CHARTS: &[Chart] = &[
    Chart {
        suffix: "deliveries",
        title: "events delivered per second",
        x_label: "seconds",
        y_label: "deliveries/s",
        lines: &[("", |s| Some((s.t, s.deliveries_per_s)))],
    },
    Chart {
        suffix: "latency",
        title: "commit -> receipt latency, per second",
        x_label: "seconds",
        y_label: "ms",
        lines: &[
            ("p50", |s| s.p50_ms.map(|ms| (s.t, ms))),
            ("p99", |s| s.p99_ms.map(|ms| (s.t, ms))),
        ],
    },
    Chart {
        suffix: "memory",
        title: "server RSS against sessions held",
        x_label: "sessions",
        y_label: "MiB",
        lines: &[("", |s| s.rss_mib.map(|mib| (s.connected as f64, mib)))],
    },
];

/// A named series of points.
type Line = (String, Vec<(f64, f64)>);

/// Draws every chart the outcomes have data for beside `json` (`fanout.json` →
/// `fanout-latency.svg` …) and returns the files written.
pub fn draw(json: &Path, scenario: &str, outcomes: &[Outcome]) -> anyhow::Result<Vec<PathBuf>> {
    let stem = json
        .file_stem()
        .context("the results file has no name")?
        .to_string_lossy();
    let mut written = Vec::new();
    for chart in CHARTS {
        let lines = lines(chart, outcomes);
        if !lines
            .iter()
            .any(|(_, points)| points.iter().any(|p| p.1 > 0.0))
        {
            continue;
        }
        let path = json.with_file_name(format!("{stem}-{}.svg", chart.suffix));
        render(
            &path,
            &format!("{scenario}: {}", chart.title),
            chart,
            &lines,
        )
        .with_context(|| format!("drawing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// Redraws the pictures of a results file the harness wrote.
pub fn redraw(json: &Path) -> anyhow::Result<Vec<PathBuf>> {
    #[derive(serde::Deserialize)]
    struct Results {
        scenario: String,
        outcomes: Vec<Outcome>,
    }
    let results: Results = serde_json::from_slice(
        &std::fs::read(json).with_context(|| format!("reading {}", json.display()))?,
    )
    .with_context(|| format!("{} is not a results file", json.display()))?;
    draw(json, &results.scenario, &results.outcomes)
}

fn lines(chart: &Chart, outcomes: &[Outcome]) -> Vec<Line> {
    let mut lines = Vec::new();
    for outcome in outcomes {
        for (name, point) in chart.lines {
            let points: Vec<(f64, f64)> = outcome.timeline.iter().filter_map(point).collect();
            if !points.is_empty() {
                let label = format!("{} {name}", outcome.target);
                lines.push((label.trim_end().to_owned(), points));
            }
        }
    }
    lines
}

fn render(path: &Path, caption: &str, chart: &Chart, lines: &[Line]) -> anyhow::Result<()> {
    let all = || lines.iter().flat_map(|(_, points)| points.iter());
    let x_max = all().map(|p| p.0).fold(1.0, f64::max);
    let y_max = all().map(|p| p.1).fold(1.0, f64::max) * 1.1;
    let root = SVGBackend::new(path, (800, 400)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut plot = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)?;
    plot.configure_mesh()
        .light_line_style(RGBColor(238, 238, 238))
        .x_desc(chart.x_label)
        .y_desc(chart.y_label)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()?;
    for (i, (name, points)) in lines.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        plot.draw_series(LineSeries::new(
            points.iter().copied(),
            color.stroke_width(2),
        ))?
        .label(name.as_str())
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    plot.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t: f64, connected: u64, deliveries_per_s: f64) -> Sample {
        Sample {
            t,
            connected,
            deliveries_per_s,
            p50_ms: (deliveries_per_s > 0.0).then_some(3.0),
            p99_ms: (deliveries_per_s > 0.0).then_some(40.0),
            rss_mib: None,
        }
    }

    #[test]
    fn draws_only_the_charts_a_run_has_data_for() {
        let dir = std::env::temp_dir().join(format!("gonghui-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut gonghui = Outcome::new("gonghui");
        gonghui.timeline = vec![sample(1.0, 10, 0.0), sample(2.0, 10, 5000.0)];
        let mut peer = Outcome::new("peer");
        peer.timeline = vec![sample(1.0, 10, 4000.0)];
        let written = draw(&dir.join("fanout.json"), "fanout", &[gonghui, peer]).unwrap();
        let names: Vec<_> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["fanout-deliveries.svg", "fanout-latency.svg"]);
        let latency = std::fs::read_to_string(&written[1]).unwrap();
        for legend in ["gonghui p50", "gonghui p99", "peer p50", "peer p99"] {
            assert!(latency.contains(legend), "{legend} missing");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
