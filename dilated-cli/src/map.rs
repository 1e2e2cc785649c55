//! `dilated map`: the 2D coverage map as a text grid, JSON, PNG or SVG.

use std::fmt::{Display, Write as _};

use dilated_core::heatmap::{self, HeatValue};
use dilated_core::schedule::{
    Count, ErrorKind, MAX_MAP_SIDE, ScheduleError, coverage_map, receptive_field,
};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::count::{CountError, Row, json_int};
use crate::{Failure, MapArgs, Outcome};

pub(crate) fn run(a: &MapArgs) -> Result<Outcome, Failure> {
    let schedule = crate::schedule(&a.stack)?;
    let axes = schedule.axes();
    let two_d = axes.len() > 1;
    let height = &axes[0].1;
    let width = &axes[axes.len() - 1].1;
    // The size limit first, before any counting.
    for (axis, layers) in axes {
        let rf = receptive_field(layers)?;
        if rf > MAX_MAP_SIDE {
            let e = ScheduleError::new(ErrorKind::MapTooLarge {
                side: rf,
                limit: MAX_MAP_SIDE,
            });
            return Err(if two_d { e.on_axis(*axis) } else { e }.into());
        }
    }
    let caption = if two_d && !schedule.axes_identical() {
        format!(
            "height: {}; width: {}",
            describe(height, false),
            describe(width, false)
        )
    } else {
        describe(height, true)
    };
    let count = |layers| {
        Row::of(layers).map_err(|e| match e {
            CountError::Schedule(e) => Failure::Schedule(e),
            e @ CountError::TooCostly { .. } => Failure::Message(e.to_string()),
        })
    };
    let rows = count(height)?;
    let cols = if two_d { count(width)? } else { rows.clone() };
    let origin = (rows.min_offset(), cols.min_offset());
    if let (Row::Small(h), Row::Small(w)) = (&rows, &cols) {
        match coverage_map(h, w) {
            Ok(map) => return render(a, &caption, &map, origin),
            Err(ScheduleError {
                kind: ErrorKind::CountOverflow,
                ..
            }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let map = coverage_map(&rows.into_big(), &cols.into_big())?;
    render(a, &caption, &map, origin)
}

/// `kernel 3×3, rates [2, 4, 8]` for a square map, `kernel 3, rates [2, 4, 8]` for one axis.
fn describe(layers: &[dilated_core::schedule::AxisSpec], square: bool) -> String {
    let rates: Vec<u64> = layers.iter().map(|l| l.rate).collect();
    let kernels: Vec<u64> = layers.iter().map(|l| l.kernel).collect();
    let strides: Vec<u64> = layers.iter().map(|l| l.stride).collect();
    let mut s = match kernels.first() {
        Some(&k) if kernels.iter().all(|&x| x == k) && square => format!("kernel {k}×{k}"),
        Some(&k) if kernels.iter().all(|&x| x == k) => format!("kernel {k}"),
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
    /// `(row_min_offset + row, col_min_offset + col)`.
    map: Vec<Vec<Box<RawValue>>>,
    /// Offset of the first row (and column, for a square map).
    min_offset: i64,
    /// Number of rows (the height axis's receptive field).
    receptive_field: usize,
    rows: usize,
    cols: usize,
    row_min_offset: i64,
    col_min_offset: i64,
    max: Box<RawValue>,
}

pub(crate) fn render<C: Count + Display + HeatValue>(
    a: &MapArgs,
    caption: &str,
    map: &[Vec<C>],
    origin: (i64, i64),
) -> Result<Outcome, Failure> {
    let options = heatmap::Options {
        cell: a.cell,
        labels: !a.no_labels,
        origin,
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
    let rows = map.len();
    let cols = map.first().map_or(0, Vec::len);
    let stdout = if a.json {
        let max = heatmap::max_value(map).map_or_else(|| json_int(&0u8), json_int);
        let j = MapJson {
            map: map
                .iter()
                .map(|r| r.iter().map(json_int).collect())
                .collect(),
            min_offset: origin.0,
            receptive_field: rows,
            rows,
            cols,
            row_min_offset: origin.0,
            col_min_offset: origin.1,
            max,
        };
        crate::json_line(&j)?
    } else {
        grid(caption, map, origin)
    };
    Ok(Outcome { stdout, code: 0 })
}

/// The classic printout: one row per line, counts right-aligned in equal columns.
fn grid<C: Display>(caption: &str, map: &[Vec<C>], origin: (i64, i64)) -> String {
    let rows = map.len();
    let cols = map.first().map_or(0, Vec::len);
    let last = |first: i64, n: usize| first + i64::try_from(n).unwrap_or(i64::MAX) - 1;
    let cells: Vec<Vec<String>> = map
        .iter()
        .map(|r| r.iter().map(ToString::to_string).collect())
        .collect();
    let width = cells.iter().flatten().map(String::len).max().unwrap_or(1);
    let offsets = if origin.0 == origin.1 && rows == cols {
        format!(
            "offsets {}..={} on both axes",
            origin.0,
            last(origin.0, rows)
        )
    } else {
        format!(
            "offsets {}..={} down, {}..={} across",
            origin.0,
            last(origin.0, rows),
            origin.1,
            last(origin.1, cols)
        )
    };
    let mut s = format!(
        "coverage map, {caption}: {rows}×{cols}, {offsets} (rows: height, columns: width)\n"
    );
    for row in &cells {
        let line: Vec<String> = row.iter().map(|c| format!("{c:>width$}")).collect();
        s.push_str(&line.join(" "));
        s.push('\n');
    }
    s
}
