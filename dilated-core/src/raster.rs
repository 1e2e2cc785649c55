//! An RGB canvas with an embedded 5×7 bitmap font, encoded as PNG (feature `png`): what
//! the `dilated map --png` heat map and the examples' pictures are drawn on. A fresh
//! machine has no system fonts, so the glyphs live here; their metrics are the heat map
//! layout's ([`GLYPH_ADVANCE`], [`GLYPH_HEIGHT`]), so text drawn here fits the space
//! [`heatmap::layout`](crate::heatmap::layout) leaves for it.
//!
//! The font has the digits, the capitals, `-`, `+`, `.`, `,`, `=` and a lowercase `e` (for
//! numbers such as `1.5e3`); other characters are drawn as blanks.
//!
//! ```
//! use dilated_core::raster::{Canvas, png::Compression, text_width};
//! let mut c = Canvas::new(64, 16).expect("a small picture");
//! c.fill(0, 0, 64, 1, [0, 0, 0]);
//! c.outline(2, 4, text_width(5, 1) + 3, 9, [190, 190, 190]);
//! c.text(4, 5, 1, "1.5E3", [0x33, 0x33, 0x33]);
//! let png = c.to_png(Compression::Fast)?;
//! assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
//! # Ok::<(), dilated_core::raster::png::EncodingError>(())
//! ```

/// The `png` crate these pictures are encoded with (0.18), re-exported for its
/// `Compression` levels and its error type.
pub use png;

pub use crate::heatmap::{GLYPH_ADVANCE, GLYPH_HEIGHT};

/// The 5×7 glyph of `c`, one byte per row, the low 5 bits left to right; `None` for a
/// character the font does not have.
fn glyph(c: char) -> Option<[u8; 7]> {
    Some(match c {
        'A' => [0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11],
        'B' => [0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e],
        'C' => [0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e],
        'D' => [0x1c, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1c],
        'E' => [0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f],
        'F' => [0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10],
        'G' => [0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f],
        'H' => [0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11],
        'I' => [0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f],
        'M' => [0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e],
        'P' => [0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10],
        'Q' => [0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d],
        'R' => [0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11],
        'S' => [0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e],
        'T' => [0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a],
        'X' => [0x00, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x00],
        'Y' => [0x11, 0x11, 0x0a, 0x04, 0x04, 0x04, 0x04],
        'Z' => [0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f],
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
        ',' => [0x00, 0x00, 0x00, 0x00, 0x0c, 0x04, 0x08],
        '=' => [0x00, 0x00, 0x1f, 0x00, 0x1f, 0x00, 0x00],
        'e' => [0x00, 0x00, 0x0e, 0x11, 0x1f, 0x10, 0x0e],
        _ => return None,
    })
}

/// Width in pixels of `chars` characters drawn at scale `scale` (no trailing gap).
#[must_use]
pub fn text_width(chars: usize, scale: u32) -> u32 {
    (u32::try_from(chars).unwrap_or(u32::MAX / 64) * GLYPH_ADVANCE * scale).saturating_sub(scale)
}

/// An RGB picture, white when made. Every drawing call clips to the picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canvas {
    width: u32,
    height: u32,
    /// Rows top to bottom, three bytes (red, green, blue) a pixel.
    pixels: Vec<u8>,
}

impl Canvas {
    /// A white `width × height` canvas; `None` when its pixels would not fit in memory's
    /// address space.
    #[must_use]
    pub fn new(width: u32, height: u32) -> Option<Self> {
        let len = usize::try_from(u64::from(width) * u64::from(height) * 3).ok()?;
        Some(Self {
            width,
            height,
            pixels: vec![255; len],
        })
    }

    /// Width in pixels.
    #[must_use]
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    #[must_use]
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The pixels: rows top to bottom, three bytes (red, green, blue) a pixel.
    #[must_use]
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// Paints the `w × h` rectangle whose top-left corner is `(x, y)` in `colour`.
    pub fn fill(&mut self, x: u32, y: u32, w: u32, h: u32, colour: [u8; 3]) {
        let x_end = x.saturating_add(w).min(self.width);
        let y_end = y.saturating_add(h).min(self.height);
        for yy in y.min(self.height)..y_end {
            let row = yy as usize * self.width as usize;
            for xx in x.min(self.width)..x_end {
                let i = (row + xx as usize) * 3;
                self.pixels[i..i + 3].copy_from_slice(&colour);
            }
        }
    }

    /// Draws a one-pixel outline through `(x, y)` and `(x + w, y + h)`: the rectangle's
    /// border, its last row and column included.
    pub fn outline(&mut self, x: u32, y: u32, w: u32, h: u32, colour: [u8; 3]) {
        self.fill(x, y, w + 1, 1, colour);
        self.fill(x, y + h, w + 1, 1, colour);
        self.fill(x, y, 1, h + 1, colour);
        self.fill(x + w, y, 1, h + 1, colour);
    }

    /// Paints the image `src` (rows of `width` pixels) with its top-left corner at
    /// `(x, y)`, each pixel as a `scale × scale` block.
    pub fn blit(&mut self, x: u32, y: u32, width: u32, scale: u32, src: &[[u8; 3]]) {
        let width = width.max(1) as usize;
        for (i, &colour) in src.iter().enumerate() {
            let (sx, sy) = (
                u32::try_from(i % width).unwrap_or(u32::MAX),
                u32::try_from(i / width).unwrap_or(u32::MAX),
            );
            self.fill(
                x.saturating_add(sx.saturating_mul(scale)),
                y.saturating_add(sy.saturating_mul(scale)),
                scale,
                scale,
                colour,
            );
        }
    }

    /// Draws `text` in the embedded font at scale `scale` (each font pixel a
    /// `scale × scale` block), its top-left corner at `(x, y)`, in `ink`.
    pub fn text(&mut self, x: u32, y: u32, scale: u32, text: &str, ink: [u8; 3]) {
        for (i, ch) in text.chars().enumerate() {
            let Some(g) = glyph(ch) else { continue };
            let gx = x + u32::try_from(i).unwrap_or(0) * GLYPH_ADVANCE * scale;
            for (row, bits) in g.iter().enumerate() {
                for col in 0..5u32 {
                    if bits & (0x10 >> col) != 0 {
                        let row = u32::try_from(row).unwrap_or(0);
                        self.fill(gx + col * scale, y + row * scale, scale, scale, ink);
                    }
                }
            }
        }
    }

    /// The picture as an 8-bit RGB PNG, compressed as `compression` says (`Fast` for a
    /// large picture made on demand, `Balanced` for a smaller file).
    pub fn to_png(&self, compression: png::Compression) -> Result<Vec<u8>, png::EncodingError> {
        let mut bytes = Vec::new();
        let mut enc = png::Encoder::new(&mut bytes, self.width, self.height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(compression);
        let mut writer = enc.write_header()?;
        writer.write_image_data(&self.pixels)?;
        writer.finish()?;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_number_character_has_a_glyph() {
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
    fn every_capital_has_its_own_glyph_and_lowercase_is_blank_but_e() {
        let mut seen: Vec<[u8; 7]> = ('A'..='Z').map(|c| glyph(c).unwrap()).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 26);
        assert!(
            ('a'..='z')
                .filter(|&c| c != 'e')
                .all(|c| glyph(c).is_none())
        );
    }

    fn at(c: &Canvas, x: u32, y: u32) -> [u8; 3] {
        let i = (y * c.width() + x) as usize * 3;
        [c.pixels()[i], c.pixels()[i + 1], c.pixels()[i + 2]]
    }

    #[test]
    fn drawing_clips_and_text_lands_where_measured() {
        let mut c = Canvas::new(20, 10).unwrap();
        c.fill(15, 5, 100, 100, [1, 2, 3]);
        assert_eq!(at(&c, 19, 9), [1, 2, 3]);
        assert_eq!(at(&c, 14, 9), [255; 3]);
        let mut t = Canvas::new(40, 20).unwrap();
        t.text(1, 1, 2, "1-", [0; 3]);
        // The `1` has its top pixel in column 2 of its glyph (scale 2); the `-` (row 3)
        // ends where `text_width` says.
        assert_eq!(at(&t, 1 + 2 * 2, 1), [0; 3]);
        assert_eq!(at(&t, 1 + text_width(2, 2) - 1, 1 + 3 * 2), [0; 3]);
        assert_eq!(at(&t, 1 + text_width(2, 2), 1 + 3 * 2), [255; 3]);
    }

    #[test]
    fn png_decodes_to_the_pixels() {
        let mut c = Canvas::new(7, 3).unwrap();
        c.blit(1, 0, 2, 2, &[[10, 20, 30], [40, 50, 60]]);
        c.outline(0, 0, 6, 2, [0, 0, 0]);
        let bytes = c.to_png(png::Compression::Balanced).unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (7, 3));
        assert_eq!(&buf[..info.buffer_size()], c.pixels());
        // The blit's second pixel, inside the outline: row 1, column 3.
        assert_eq!(at(&c, 3, 1), [40, 50, 60]);
    }
}
