//! The heat map as a PNG: the same layout, palette and ticks as the SVG renderer
//! (`dilated_core::heatmap`), rasterised here with a small embedded 5×7 bitmap font (a
//! fresh machine has no system fonts).

use dilated_core::heatmap::{self, GLYPH_ADVANCE, GLYPH_HEIGHT, HeatValue, Layout, Options};

/// 5×7 glyphs, one byte per row, the low 5 bits left to right.
fn glyph(c: char) -> Option<[u8; 7]> {
    Some(match c {
        '0' => [0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e],
        '1' => [0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e],
        '2' => [0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f],
        '3' => [0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e],
        '4' => [0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02],
        '5' => [0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e],
        '6' => [0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e],
        '7' => [0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e],
        '9' => [0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c],
        '-' => [0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00],
        '+' => [0x00, 0x04, 0x04, 0x1f, 0x04, 0x04, 0x00],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c],
        'e' => [0x00, 0x00, 0x0e, 0x11, 0x1f, 0x10, 0x0e],
        _ => return None,
    })
}

/// An RGB raster.
struct Canvas {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(width: u32, height: u32) -> Option<Self> {
        let len = usize::try_from(u64::from(width) * u64::from(height) * 3).ok()?;
        Some(Self {
            width,
            height,
            pixels: vec![255; len],
        })
    }

    fn fill(&mut self, x: u32, y: u32, w: u32, h: u32, c: [u8; 3]) {
        let x_end = x.saturating_add(w).min(self.width);
        let y_end = y.saturating_add(h).min(self.height);
        for yy in y.min(self.height)..y_end {
            let row = yy as usize * self.width as usize;
            for xx in x.min(self.width)..x_end {
                let i = (row + xx as usize) * 3;
                self.pixels[i..i + 3].copy_from_slice(&c);
            }
        }
    }

    /// Draws `text` at font scale `s` with its top-left corner at `(x, y)`.
    fn text(&mut self, x: u32, y: u32, s: u32, text: &str, ink: [u8; 3]) {
        for (i, ch) in text.chars().enumerate() {
            let Some(g) = glyph(ch) else { continue };
            let gx = x + u32::try_from(i).unwrap_or(0) * GLYPH_ADVANCE * s;
            for (row, bits) in g.iter().enumerate() {
                for col in 0..5u32 {
                    if bits & (0x10 >> col) != 0 {
                        let row = u32::try_from(row).unwrap_or(0);
                        self.fill(gx + col * s, y + row * s, s, s, ink);
                    }
                }
            }
        }
    }
}

/// Width in pixels of `chars` characters at scale `s`.
fn text_width(chars: usize, s: u32) -> u32 {
    (u32::try_from(chars).unwrap_or(u32::MAX / 64) * GLYPH_ADVANCE * s).saturating_sub(s)
}

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
    frame(
        &mut c,
        l.grid_left,
        l.grid_top,
        l.grid_right() - l.grid_left,
        l.grid_bottom() - l.grid_top,
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
    frame(&mut c, l.bar_left, l.bar_top, l.bar_width, l.bar_height);
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

    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, c.width, c.height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Fast);
        let mut writer = enc
            .write_header()
            .map_err(|e| format!("cannot encode the PNG: {e}"))?;
        writer
            .write_image_data(&c.pixels)
            .map_err(|e| format!("cannot encode the PNG: {e}"))?;
        writer
            .finish()
            .map_err(|e| format!("cannot encode the PNG: {e}"))?;
    }
    Ok((bytes, l.width, l.height))
}

fn frame(c: &mut Canvas, x: u32, y: u32, w: u32, h: u32) {
    let black = [0, 0, 0];
    c.fill(x, y, w + 1, 1, black);
    c.fill(x, y + h, w + 1, 1, black);
    c.fill(x, y, 1, h + 1, black);
    c.fill(x + w, y, 1, h + 1, black);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_character_has_a_glyph() {
        for ch in "0123456789-+.e".chars() {
            assert!(glyph(ch).is_some(), "{ch}");
        }
        // Distinct digits have distinct glyphs.
        let mut seen: Vec<[u8; 7]> = (0..10)
            .filter_map(|d| glyph(char::from(b'0' + d)))
            .collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 10);
    }

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
