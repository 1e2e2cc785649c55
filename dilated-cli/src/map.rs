//! `dilated map`: the 2D coverage map as a text grid, JSON, PNG or SVG.

use std::fmt::{Display, Write as _};

use dilated_core::heatmap::{self, HeatValue};
use dilated_core::schedule::{
    Count, ErrorKind, MAX_MAP_SIDE, ScheduleError, coverage_map, receptive_field,
};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::count::{Big, CountError, Row, json_int};
use crate::{Failure, MapArgs, Outcome};

pub(crate) fn run(a: &MapArgs) -> Result<Outcome, Failure> {
    let schedule = crate::schedule(&a.stack)?;
    let layers = &schedule.axes()[0].1;
    // The size limit first, before any counting.
    let rf = receptive_field(layers)?;
    if rf > MAX_MAP_SIDE {
        return Err(ScheduleError::new(ErrorKind::MapTooLarge {
            side: rf,
            limit: MAX_MAP_SIDE,
        })
        .into());
    }
    let caption = describe(layers);
    let row = Row::of(layers).map_err(|e| match e {
        CountError::Schedule(e) => Failure::Schedule(e),
        e @ CountError::TooCostly { .. } => Failure::Message(e.to_string()),
    })?;
    match row {
        Row::Small(row) => match coverage_map(&row, &row) {
            Ok(map) => render(a, &caption, &map, row.min_offset),
            Err(ScheduleError {
                kind: ErrorKind::CountOverflow,
                ..
            }) => {
                let big: Vec<Big> = row.counts.iter().map(|&c| Big(c.into())).collect();
                let map = outer(&big)?;
                render(a, &caption, &map, row.min_offset)
            }
            Err(e) => Err(e.into()),
        },
        Row::Big(row) => {
            let map = outer(&row.counts)?;
            render(a, &caption, &map, row.min_offset)
        }
    }
}

fn outer(row: &[Big]) -> Result<Vec<Vec<Big>>, ScheduleError> {
    let c = dilated_core::schedule::Coverage {
        min_offset: 0,
        counts: row.to_vec(),
    };
    coverage_map(&c, &c)
}

fn describe(layers: &[dilated_core::schedule::AxisLayer]) -> String {
    let rates: Vec<u64> = layers.iter().map(|l| l.rate).collect();
    let kernels: Vec<u64> = layers.iter().map(|l| l.kernel).collect();
    let strides: Vec<u64> = layers.iter().map(|l| l.stride).collect();
    let mut s = match kernels.first() {
        Some(&k) if kernels.iter().all(|&x| x == k) => format!("kernel {k}×{k}"),
        _ => format!("kernels {}", crate::check::list(&kernels, 16)),
    };
    let _ = write!(s, ", rates {}", crate::check::list(&rates, 16));
    if strides.iter().any(|&x| x != 1) {
        let _ = write!(s, ", strides {}", crate::check::list(&strides, 16));
    }
    s
}

/// Largest side of a PNG or SVG picture, in pixels (a 1,024-wide map at 16 px a cell).
pub(crate) const MAX_PICTURE_SIDE: u32 = 16_384;

#[derive(Serialize)]
struct MapJson {
    /// `map[row][col]`: paths from the output pixel to the input pixel at offsets
    /// `(min_offset + row, min_offset + col)`.
    map: Vec<Vec<Box<RawValue>>>,
    min_offset: i64,
    receptive_field: usize,
    max: Box<RawValue>,
}

fn render<C: Count + Display + HeatValue>(
    a: &MapArgs,
    caption: &str,
    map: &[Vec<C>],
    min_offset: i64,
) -> Result<Outcome, Failure> {
    let options = heatmap::Options {
        cell: a.cell,
        labels: !a.no_labels,
        origin: (min_offset, min_offset),
        title: Some(format!("coverage of one output pixel: {caption}")),
    };
    if a.png.is_some() || a.svg.is_some() {
        let l = heatmap::layout(map, &options);
        if l.width.max(l.height) > MAX_PICTURE_SIDE {
            return Err(Failure::Message(format!(
                "a {}×{}-pixel picture is over the limit of {MAX_PICTURE_SIDE} pixels per side: use a smaller --cell",
                l.width, l.height
            )));
        }
    }
    if let Some(path) = &a.png {
        let (bytes, w, h) = crate::png_out::render(map, &options).map_err(Failure::Message)?;
        std::fs::write(path, bytes)
            .map_err(|e| Failure::Message(format!("cannot write {}: {e}", path.display())))?;
        eprintln!("wrote {} ({w}×{h} px)", path.display());
    }
    if let Some(path) = &a.svg {
        let svg = heatmap::svg(map, &options);
        std::fs::write(path, svg)
            .map_err(|e| Failure::Message(format!("cannot write {}: {e}", path.display())))?;
        eprintln!("wrote {}", path.display());
    }
    let n = map.len();
    let stdout = if a.json {
        let max = heatmap::max_value(map).map_or_else(|| json_int(&0u8), json_int);
        let j = MapJson {
            map: map
                .iter()
                .map(|r| r.iter().map(json_int).collect())
                .collect(),
            min_offset,
            receptive_field: n,
            max,
        };
        let mut s = serde_json::to_string(&j)
            .map_err(|e| Failure::Message(format!("cannot write JSON: {e}")))?;
        s.push('\n');
        s
    } else {
        grid(caption, map, min_offset)
    };
    Ok(Outcome { stdout, code: 0 })
}

/// The seed's printout: one row per line, counts right-aligned in equal columns.
fn grid<C: Display>(caption: &str, map: &[Vec<C>], min_offset: i64) -> String {
    let n = map.len();
    let last = min_offset + i64::try_from(n).unwrap_or(i64::MAX) - 1;
    let cells: Vec<Vec<String>> = map
        .iter()
        .map(|r| r.iter().map(ToString::to_string).collect())
        .collect();
    let width = cells.iter().flatten().map(String::len).max().unwrap_or(1);
    let mut s = format!(
        "coverage map, {caption}: {n}×{n}, offsets {min_offset}..={last} on both axes (rows: height, columns: width)\n"
    );
    for row in &cells {
        let line: Vec<String> = row.iter().map(|c| format!("{c:>width$}")).collect();
        s.push_str(&line.join(" "));
        s.push('\n');
    }
    s
}
