//! For the benches: the agent's per-stage histograms
//! (`cloud_event_agent_stage_seconds{stage}`) between two scrapes, as a
//! Markdown table of count, mean and bucket-interpolated percentiles.

use crate::Agent;

/// The stages, in the order an event passes them.
pub const STAGES: [&str; 4] = ["engine", "queued", "written", "answered"];

/// One stage's histogram: cumulative bucket counts by upper bound, sum,
/// count.
#[derive(Clone, Debug, Default)]
pub struct Hist {
    pub buckets: Vec<(f64, f64)>,
    pub sum: f64,
    pub count: f64,
}

impl Hist {
    /// `self - before`, bucket by bucket (same buckets).
    #[must_use]
    pub fn since(&self, before: &Self) -> Self {
        Self {
            buckets: self
                .buckets
                .iter()
                .map(|&(le, n)| {
                    let b = before
                        .buckets
                        .iter()
                        .find(|x| x.0 == le)
                        .map_or(0.0, |x| x.1);
                    (le, n - b)
                })
                .collect(),
            sum: self.sum - before.sum,
            count: self.count - before.count,
        }
    }

    /// The `p` quantile in µs, linear within its bucket (as Prometheus'
    /// `histogram_quantile`); NaN when empty.
    #[must_use]
    pub fn quantile_us(&self, p: f64) -> f64 {
        if self.count <= 0.0 {
            return f64::NAN;
        }
        let rank = p * self.count;
        let mut lower = (0.0, 0.0);
        for &(le, n) in &self.buckets {
            if n >= rank {
                if le.is_infinite() {
                    return lower.0 * 1e6;
                }
                let within = if n > lower.1 {
                    (rank - lower.1) / (n - lower.1)
                } else {
                    0.0
                };
                return (lower.0 + (le - lower.0) * within) * 1e6;
            }
            lower = (le, n);
        }
        lower.0 * 1e6
    }

    #[must_use]
    pub fn mean_us(&self) -> f64 {
        if self.count > 0.0 {
            self.sum / self.count * 1e6
        } else {
            f64::NAN
        }
    }
}

/// Every stage's histogram in a scrape, in [`STAGES`] order.
#[must_use]
pub fn parse(scrape: &str) -> Vec<Hist> {
    STAGES
        .iter()
        .map(|stage| {
            let label = format!("stage=\"{stage}\"");
            let mut h = Hist::default();
            for l in scrape.lines() {
                let Some(rest) = l.strip_prefix("cloud_event_agent_stage_seconds") else {
                    continue;
                };
                if !rest.contains(&label) {
                    continue;
                }
                let Some((series, v)) = rest.rsplit_once(' ') else {
                    continue;
                };
                let Ok(v) = v.parse::<f64>() else { continue };
                if series.starts_with("_bucket") {
                    let le = series
                        .split("le=\"")
                        .nth(1)
                        .and_then(|s| s.split('"').next())
                        .and_then(|s| s.parse::<f64>().ok());
                    if let Some(le) = le {
                        h.buckets.push((le, v));
                    }
                } else if series.starts_with("_sum") {
                    h.sum = v;
                } else if series.starts_with("_count") {
                    h.count = v;
                }
            }
            h
        })
        .collect()
}

/// A scrape of `a`'s stage histograms.
#[must_use]
pub fn scrape(a: &Agent) -> Vec<Hist> {
    parse(&a.metrics())
}

/// Prints the table header.
pub fn header() {
    println!("| run | stage | count | mean (µs) | p50 (µs) | p99 (µs) |");
    println!("|---|---|---:|---:|---:|---:|");
}

/// Prints one row per stage for what happened between `before` and `after`.
pub fn rows(run: &str, before: &[Hist], after: &[Hist]) {
    for ((stage, b), a) in STAGES.iter().zip(before).zip(after) {
        let h = a.since(b);
        println!(
            "| {run} | {stage} | {:.0} | {:.1} | {:.1} | {:.1} |",
            h.count,
            h.mean_us(),
            h.quantile_us(0.5),
            h.quantile_us(0.99)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_within_buckets() {
        let scrape = r#"cloud_event_agent_stage_seconds_bucket{stage="engine",le="0.00001"} 0
cloud_event_agent_stage_seconds_bucket{stage="engine",le="0.00002"} 50
cloud_event_agent_stage_seconds_bucket{stage="engine",le="0.00005"} 100
cloud_event_agent_stage_seconds_bucket{stage="engine",le="+Inf"} 100
cloud_event_agent_stage_seconds_sum{stage="engine"} 0.002
cloud_event_agent_stage_seconds_count{stage="engine"} 100
"#;
        let h = &parse(scrape)[0];
        assert_eq!(h.count, 100.0);
        assert!((h.mean_us() - 20.0).abs() < 1e-9);
        // Rank 50 is the top of the (10, 20] µs bucket.
        assert!((h.quantile_us(0.5) - 20.0).abs() < 1e-9);
        // Rank 99 is 49/50 of the way through (20, 50] µs.
        assert!((h.quantile_us(0.99) - 49.4).abs() < 1e-9);
        assert!(parse(scrape)[1].quantile_us(0.5).is_nan());
    }
}
