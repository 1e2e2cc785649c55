//! The heat map as a PNG: the same layout, palette and ticks as the SVG renderer
//! (`dilated_core::heatmap`), drawn on `dilated_core::raster`'s canvas with its embedded
//! bitmap font (a fresh machine has no system fonts).

use dilated_core::heatmap::{self, GLYPH_HEIGHT, HeatValue, Layout, Options};
use dilated_core::raster::{Canvas, png::Compression, text_width};

/// Renders `map` as PNG bytes; returns them with the picture's size.
pub(crate) fn render<T: HeatValue>(
    map: &[Vec<T>],
    options: &Options,
) -> Result<(Vec<u8>, u32, u32), String> {
    let options = Options {
        title: None,
        ..options.clone()
    };
    let l: Layout = heatmap::layout(map, &options);
    let mut c = Canvas::new(l.width, l.height)
        .ok_or_else(|| format!("a {}×{} picture is too large", l.width, l.height))?;
    let max_log2 = heatmap::max_value(map).map_or(f64::NEG_INFINITY, HeatValue::log2);
    let black = [0, 0, 0];

    for (r, row) in map.iter().enumerate() {
        for (col, v) in row.iter().enumerate() {
            let fill = heatmap::colour(heatmap::shade(v.log2(), max_log2));
            let (x, y) = l.cell_origin(r, col);
            c.fill(x, y, l.cell, l.cell, fill);
        }
    }
    if l.grid_lines {
        for r in 1..l.rows {
            let (_, y) = l.cell_origin(r, 0);
            c.fill(l.grid_left, y, l.grid_right() - l.grid_left, 1, black);
        }
        for col in 1..l.cols {
            let (x, _) = l.cell_origin(0, col);
            c.fill(x, l.grid_top, 1, l.grid_bottom() - l.grid_top, black);
        }
    }
    c.outline(
        l.grid_left,
        l.grid_top,
        l.grid_right() - l.grid_left,
        l.grid_bottom() - l.grid_top,
        black,
    );

    if let Some(s) = l.label_scale {
        for (r, row) in map.iter().enumerate() {
            for (col, v) in row.iter().enumerate() {
                let fill = heatmap::colour(heatmap::shade(v.log2(), max_log2));
                let label = v.to_string();
                let (x, y) = l.cell_origin(r, col);
                let w = text_width(label.len(), s);
                let h = GLYPH_HEIGHT * s;
                c.text(
                    x + (l.cell - w) / 2,
                    y + (l.cell - h) / 2,
                    s,
                    &label,
                    heatmap::text_colour(fill),
                );
            }
        }
    }

    // Axis ticks.
    let ts = l.text_scale;
    let grey = [0x33, 0x33, 0x33];
    for (i, off) in l.x_ticks() {
        let label = off.to_string();
        let (x, _) = l.cell_origin(0, i);
        let w = text_width(label.len(), ts);
        let cx = x + l.cell / 2;
        c.text(cx.saturating_sub(w / 2), l.x_axis_top(), ts, &label, grey);
    }
    for (i, off) in l.y_ticks() {
        let label = off.to_string();
        let (_, y) = l.cell_origin(i, 0);
        let w = text_width(label.len(), ts);
        let cy = y + l.cell / 2;
        c.text(
            l.grid_left.saturating_sub(6 + w),
            cy.saturating_sub(GLYPH_HEIGHT * ts / 2),
            ts,
            &label,
            grey,
        );
    }

    // Colour bar: one colour per pixel row.
    for y in l.bar_top..l.bar_top + l.bar_height {
        let t = f64::from(l.bar_top + l.bar_height - y) / f64::from(l.bar_height.max(1));
        c.fill(l.bar_left, y, l.bar_width, 1, heatmap::colour(t));
    }
    c.outline(l.bar_left, l.bar_top, l.bar_width, l.bar_height, black);
    let ticks = match heatmap::max_value(map) {
        Some(m) => heatmap::bar_ticks(m),
        None => vec![(0.0, "0".to_owned())],
    };
    for (t, label) in ticks {
        let y = l.bar_y(t);
        let x = l.bar_left + l.bar_width;
        c.fill(x, y, 4, 1, black);
        c.text(
            x + 8,
            y.saturating_sub(GLYPH_HEIGHT * ts / 2),
            ts,
            &label,
            black,
        );
    }

    // Fast: a map of 1,024 cells a side makes a picture of several megapixels.
    let bytes = c
        .to_png(Compression::Fast)
        .map_err(|e| format!("cannot encode the PNG: {e}"))?;
    Ok((bytes, l.width, l.height))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_has_the_layout_size_and_decodes() {
        let map = vec![vec![1u32, 0, 1], vec![0, 0, 0], vec![1, 0, 4]];
        let options = Options::default();
        let (bytes, w, h) = render(&map, &options).unwrap();
        let l = heatmap::layout(&map, &options);
        assert_eq!((w, h), (l.width, l.height));
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert_eq!((info.width, info.height), (w, h));
    }
}
