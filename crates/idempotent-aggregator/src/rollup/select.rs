//! The queries a Stats API breakdown needs beyond [`SiteRollup::top`]: every
//! value of a dimension over a range (optionally with its uniques, for
//! ordering by visitors), and the union of several values (a filter
//! `is [a, b]`).

use super::{Dimension, HourRange, Metrics, Row, SiteRollup, Stats};
use crate::lattice::Lattice;
use crate::sketch::UniqueSketch;

impl SiteRollup {
    /// Every value of `dim` with a cell in `range`, with its metrics summed
    /// over the range, in no particular order. Uniques are computed only when
    /// `visitors` is set (one union per value, in the same scan); otherwise
    /// [`Stats::visitors`] is 0 and [`SiteRollup::stats`] gives a value's.
    /// Values whose cells net to nothing (no events, visits or visitors)
    /// are left out.
    pub fn breakdown(&self, range: HourRange, dim: Dimension, visitors: bool) -> Vec<Row> {
        let n = self.values.len();
        let mut sums = vec![Metrics::default(); n];
        let mut sketches: Vec<Option<UniqueSketch>> =
            if visitors { vec![None; n] } else { Vec::new() };
        // Whether a value has a cell at all, and whether any of its cells
        // holds a visitor (kept even when its counts net to zero).
        let mut seen = vec![false; n];
        let mut has_visitor = vec![false; n];
        let mut touched: Vec<u32> = Vec::new();
        for cells in self.range(range) {
            for (&id, cell) in cells.dim(dim) {
                let i = id as usize;
                let Some(sum) = sums.get_mut(i) else {
                    continue;
                };
                sum.add(&cell.tally.metrics());
                if let Some(slot) = sketches.get_mut(i) {
                    match slot {
                        Some(s) => s.merge(&cell.visitors),
                        None => *slot = Some(cell.visitors.clone()),
                    }
                }
                if let Some(flag) = has_visitor.get_mut(i) {
                    *flag |= !cell.visitors.is_empty();
                }
                if let Some(flag) = seen.get_mut(i)
                    && !*flag
                {
                    *flag = true;
                    touched.push(id);
                }
            }
        }
        touched
            .into_iter()
            .filter_map(|id| {
                let i = id as usize;
                let m = sums.get(i).copied().unwrap_or_default();
                let keep = m != Metrics::default() || has_visitor.get(i).copied().unwrap_or(false);
                let uniques = sketches
                    .get(i)
                    .and_then(Option::as_ref)
                    .map_or(0, UniqueSketch::count);
                keep.then(|| Row {
                    value: self.values.get(id).to_owned(),
                    stats: Stats::from_metrics(&m, uniques),
                })
            })
            .collect()
    }

    /// Metrics and uniques of the events or visits having any of `values`
    /// of `dim` over `range`: counts summed (each event and each visit has
    /// one value of a dimension), uniques the union of the values' sketches.
    /// A value given twice counts once.
    pub fn stats_any(&self, range: HourRange, dim: Dimension, values: &[&str]) -> Stats {
        let mut ids: Vec<u32> = values.iter().filter_map(|v| self.values.find(v)).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut metrics = Metrics::default();
        let mut visitors: Option<UniqueSketch> = None;
        for cells in self.range(range) {
            let map = cells.dim(dim);
            for id in &ids {
                if let Some(cell) = map.get(id) {
                    metrics.add(&cell.tally.metrics());
                    match &mut visitors {
                        Some(v) => v.merge(&cell.visitors),
                        None => visitors = Some(cell.visitors.clone()),
                    }
                }
            }
        }
        Stats::from_metrics(&metrics, visitors.map_or(0, |v| v.count()))
    }
}
