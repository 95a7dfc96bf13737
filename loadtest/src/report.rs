//! The final table and the `--json` file.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::timeline::Sample;

/// What one scenario measured against one target.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Outcome {
    /// `gonghui` or `peer`.
    pub target: String,
    /// Named figures, in the order they were measured.
    pub metrics: Vec<(String, f64)>,
    /// Sessions or calls that failed, by cause.
    pub failures: BTreeMap<String, u64>,
    /// Events that never arrived or were skipped.
    pub lost: u64,
    /// Events that arrived twice (or decisions made twice).
    pub duplicated: u64,
    /// The run second by second, for scenarios whose sessions run in workers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<Sample>,
}

impl Outcome {
    /// An empty outcome for `target`.
    pub fn new(target: &str) -> Self {
        Outcome {
            target: target.to_owned(),
            ..Outcome::default()
        }
    }

    /// Records a figure.
    pub fn metric(&mut self, name: &str, value: f64) {
        self.metrics.push((name.to_owned(), value));
    }

    /// Whether nothing was lost or duplicated.
    pub fn clean(&self) -> bool {
        self.lost == 0 && self.duplicated == 0
    }
}

/// Prints the scenario's table: each figure for gonghui, the peer if it ran, and their ratio.
pub fn print(scenario: &str, outcomes: &[Outcome]) {
    println!("\n{scenario}");
    let header: Vec<&str> = outcomes.iter().map(|o| o.target.as_str()).collect();
    print!("  {:<34}", "");
    for h in &header {
        print!("{h:>14}");
    }
    if outcomes.len() == 2 {
        print!("{:>14}", "ratio");
    }
    println!();
    let Some(first) = outcomes.first() else {
        return;
    };
    for (name, value) in &first.metrics {
        print!("  {name:<34}{value:>14.2}");
        if let Some(peer) = outcomes.get(1) {
            match peer.metrics.iter().find(|(n, _)| n == name) {
                Some((_, p)) => print!(
                    "{p:>14.2}{:>14}",
                    if *p != 0.0 {
                        format!("{:.2}", value / p)
                    } else {
                        "-".into()
                    }
                ),
                None => print!("{:>14}{:>14}", "-", "-"),
            }
        }
        println!();
    }
    for o in outcomes {
        println!(
            "  {:<34}lost {} duplicated {} failures {:?}",
            o.target, o.lost, o.duplicated, o.failures
        );
    }
}
