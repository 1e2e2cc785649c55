//! Coverage heat maps rendered as SVG, dependency-free: the `dilated map --svg` command and
//! the proc macro's generated docs draw the same picture.
//!
//! The style follows the usual coverage-count figure: one square cell per input
//! position, coloured on a linear white → blue → red scale from zero to the largest count
//! (white is a count of zero, a hole), the count written in each cell when it fits, black
//! grid lines between cells, and a colour bar on the right.
//!
//! [`svg`] renders a whole picture. [`Layout`], [`colour`], [`text_colour`],
//! [`bar_ticks`] and [`axis_ticks`] expose the geometry and the palette so that a raster
//! renderer (the CLI's PNG writer) draws exactly the same picture.
//!
//! ```
//! use dilated_core::heatmap::{svg, Options};
//!
//! // k = 3, rates [1, 2]: the 1D counts are 1 1 2 1 2 1 1; the 2D map is their outer product.
//! let row = [1u32, 1, 2, 1, 2, 1, 1];
//! let map: Vec<Vec<u32>> = row.iter().map(|&a| row.iter().map(|&b| a * b).collect()).collect();
//! let picture = svg(&map, &Options { origin: (-3, -3), ..Options::default() });
//! assert!(picture.starts_with("<svg"));
//! assert!(picture.contains(">4</text>")); // the count 2·2 written in its cell
//! ```

use std::fmt::{self, Write as _};

/// A count that can be drawn in a heat map: it prints itself (the label written in its
/// cell) and tells its magnitude as a base-2 logarithm, which keeps colours right for
/// counts far beyond `f64`'s range (a deep stack's counts grow like `k^n`).
pub trait HeatValue: fmt::Display {
    /// `log2(self)`, approximately; `f64::NEG_INFINITY` for zero.
    fn log2(&self) -> f64;
}

macro_rules! heat_value_for_unsigned {
    ($($t:ty),*) => {$(
        impl HeatValue for $t {
            #[allow(clippy::cast_precision_loss)]
            fn log2(&self) -> f64 {
                if *self == 0 {
                    f64::NEG_INFINITY
                } else {
                    (*self as f64).log2()
                }
            }
        }
    )*};
}
heat_value_for_unsigned!(u8, u16, u32, u64, u128, usize);

impl<T: HeatValue + ?Sized> HeatValue for &T {
    fn log2(&self) -> f64 {
        (**self).log2()
    }
}

/// How to draw a heat map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Side of one cell in pixels; `None` picks one from the map's size (large cells for
    /// the small maps of a few layers, 2 px for a 1,024-wide map).
    pub cell: Option<u32>,
    /// Write each count in its cell when the longest count fits in a cell.
    pub labels: bool,
    /// Offsets (relative to the output position) of the top-left cell, `(row, column)`,
    /// used for the axis ticks. A map trimmed to a receptive field of 29 centred on the
    /// output has origin `(-14, -14)`.
    pub origin: (i64, i64),
    /// A caption drawn above the map (SVG only; the PNG writer has digits only).
    pub title: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            cell: None,
            labels: true,
            origin: (0, 0),
            title: None,
        }
    }
}

/// Width, in font units, of one character of the label font (a 5×7 bitmap digit on a
/// 6-unit advance; in SVG a monospace font of size `10·scale`).
pub const GLYPH_ADVANCE: u32 = 6;
/// Height, in font units, of one character of the label font.
pub const GLYPH_HEIGHT: u32 = 7;

/// The geometry of a heat map picture, in pixels, shared by the SVG and PNG renderers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Number of rows of cells.
    pub rows: usize,
    /// Number of columns of cells.
    pub cols: usize,
    /// Side of one cell.
    pub cell: u32,
    /// Left edge of the grid.
    pub grid_left: u32,
    /// Top edge of the grid.
    pub grid_top: u32,
    /// Left edge of the colour bar.
    pub bar_left: u32,
    /// Width of the colour bar.
    pub bar_width: u32,
    /// Top edge of the colour bar (aligned with the grid).
    pub bar_top: u32,
    /// Height of the colour bar.
    pub bar_height: u32,
    /// Scale of the axis and colour-bar label font (a character is `6·scale` wide and
    /// `7·scale` high).
    pub text_scale: u32,
    /// Scale of the count labels in the cells; `None` when they do not fit (or labels
    /// are off).
    pub label_scale: Option<u32>,
    /// Whether black grid lines separate the cells (only when cells are large enough).
    pub grid_lines: bool,
    /// Height of the caption band above the grid (zero without a title).
    pub title_height: u32,
    /// Offsets of the top-left cell, `(row, column)` (from [`Options::origin`]).
    pub origin: (i64, i64),
    /// Characters of the longest axis label.
    pub axis_chars: usize,
    /// Width of the whole picture.
    pub width: u32,
    /// Height of the whole picture.
    pub height: u32,
}

impl Layout {
    /// Lays out a `rows × cols` map whose longest count label has `label_chars`
    /// characters and whose longest colour-bar label has `bar_chars`.
    #[must_use]
    pub fn new(
        rows: usize,
        cols: usize,
        label_chars: usize,
        bar_chars: usize,
        options: &Options,
    ) -> Self {
        let axis_chars =
            axis_label_chars(rows, options.origin.0).max(axis_label_chars(cols, options.origin.1));
        let side = rows.max(cols).max(1);
        let cell = options.cell.unwrap_or_else(|| auto_cell(side)).max(1);
        let text_scale = 2;
        let label_scale = if options.labels {
            label_scale(label_chars, cell)
        } else {
            None
        };
        let grid_lines = cell >= 8;
        let char_w = GLYPH_ADVANCE * text_scale;
        let char_h = GLYPH_HEIGHT * text_scale;
        let pad = 8;
        let title_height = if options.title.is_some() {
            char_h * 2
        } else {
            0
        };
        let grid_left = pad + to_u32(axis_chars) * char_w + pad;
        let grid_top = pad + title_height + char_h;
        let grid_w = to_u32(cols).saturating_mul(cell);
        let grid_h = to_u32(rows).saturating_mul(cell);
        let bar_left = grid_left + grid_w + 3 * pad;
        let bar_width = 18;
        let bar_top = grid_top;
        let bar_height = grid_h.max(120);
        // The caption is a monospace line of font size `10·scale + 2` (0.6 em a character).
        let title_w = options.title.as_ref().map_or(0, |t| {
            to_u32(t.chars().count()) * (6 * (10 * text_scale + 2)).div_ceil(10)
        });
        let width = (bar_left + bar_width + pad + to_u32(bar_chars) * char_w + 2 * pad)
            .max(grid_left + title_w + pad);
        let height = grid_top + grid_h.max(bar_height) + pad + char_h + 2 * pad;
        Self {
            rows,
            cols,
            cell,
            grid_left,
            grid_top,
            bar_left,
            bar_width,
            bar_top,
            bar_height,
            text_scale,
            label_scale,
            grid_lines,
            title_height,
            origin: options.origin,
            axis_chars,
            width,
            height,
        }
    }

    /// The labelled columns, `(index, offset)` (see [`axis_ticks`]).
    #[must_use]
    pub fn x_ticks(&self) -> Vec<(usize, i64)> {
        let spacing = (to_u32(self.axis_chars) * GLYPH_ADVANCE + 3) * self.text_scale;
        axis_ticks(self.cols, self.origin.1, self.cell, spacing)
    }

    /// The labelled rows, `(index, offset)`: spaced by the label height.
    #[must_use]
    pub fn y_ticks(&self) -> Vec<(usize, i64)> {
        axis_ticks(
            self.rows,
            self.origin.0,
            self.cell,
            2 * GLYPH_HEIGHT * self.text_scale,
        )
    }

    /// Top-left corner of the cell at `(row, col)`.
    #[must_use]
    pub fn cell_origin(&self, row: usize, col: usize) -> (u32, u32) {
        (
            self.grid_left + to_u32(col).saturating_mul(self.cell),
            self.grid_top + to_u32(row).saturating_mul(self.cell),
        )
    }

    /// Right edge of the grid.
    #[must_use]
    pub fn grid_right(&self) -> u32 {
        self.grid_left + to_u32(self.cols).saturating_mul(self.cell)
    }

    /// Bottom edge of the grid.
    #[must_use]
    pub fn grid_bottom(&self) -> u32 {
        self.grid_top + to_u32(self.rows).saturating_mul(self.cell)
    }

    /// Baseline-free vertical position of the x-axis tick labels (their top edge).
    #[must_use]
    pub fn x_axis_top(&self) -> u32 {
        self.grid_bottom() + 6
    }

    /// The vertical position, inside the colour bar, of the fraction `t` of the scale
    /// (0 at the bottom, 1 at the top).
    #[must_use]
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    pub fn bar_y(&self, t: f64) -> u32 {
        let t = t.clamp(0.0, 1.0);
        self.bar_top + ((1.0 - t) * f64::from(self.bar_height)).round() as u32
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Cell side picked for a map whose larger side has `side` cells: about 960 px across,
/// between 2 and 40 px a cell.
fn auto_cell(side: usize) -> u32 {
    let side = to_u32(side).max(1);
    (960 / side).clamp(2, 40)
}

/// The largest label font scale (1 to 4) at which `chars` characters fit in a cell of
/// side `cell`: at most 85% of its width and half its height.
fn label_scale(chars: usize, cell: u32) -> Option<u32> {
    let chars = to_u32(chars.max(1));
    (1..=4u32).rev().find(|&s| {
        let w = chars * GLYPH_ADVANCE * s - s;
        let h = GLYPH_HEIGHT * s;
        w * 100 <= cell * 85 && h * 2 <= cell
    })
}

/// The colour of the fraction `t ∈ [0, 1]` of the scale: white at 0, pure blue at ½, pure
/// red at 1, linear in between (matplotlib's `LinearSegmentedColormap.from_list` of
/// `['white', 'blue', 'red']`, the usual coverage-figure colours).
#[must_use]
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
pub fn colour(t: f64) -> [u8; 3] {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let byte = |x: f64| (x * 255.0).round().clamp(0.0, 255.0) as u8;
    if t <= 0.5 {
        let s = t * 2.0;
        let w = byte(1.0 - s);
        [w, w, 255]
    } else {
        let s = t * 2.0 - 1.0;
        [byte(s), 0, byte(1.0 - s)]
    }
}

/// Black or white, whichever reads better on `background`.
#[must_use]
pub fn text_colour(background: [u8; 3]) -> [u8; 3] {
    let [r, g, b] = background.map(u32::from);
    let luma = 299 * r + 587 * g + 114 * b; // ×1000
    if luma < 140_000 {
        [255, 255, 255]
    } else {
        [0, 0, 0]
    }
}

/// The fraction of the scale a count sits at: `value / max`, computed from logarithms so
/// that counts beyond `f64`'s range still get their colour. Zero is 0.
#[must_use]
pub fn fraction(value_log2: f64, max_log2: f64) -> f64 {
    if value_log2 == f64::NEG_INFINITY || max_log2 == f64::NEG_INFINITY {
        0.0
    } else {
        (value_log2 - max_log2).exp2().clamp(0.0, 1.0)
    }
}

/// The smallest fraction of the scale a non-zero count is drawn at: a count far below
/// the maximum stays visibly tinted, never the white of a hole.
pub const MIN_SHADE: f64 = 0.03;

/// The fraction of the scale a cell is painted at: 0 (white) for a zero count, otherwise
/// [`fraction`] raised to at least [`MIN_SHADE`].
#[must_use]
pub fn shade(value_log2: f64, max_log2: f64) -> f64 {
    if value_log2 == f64::NEG_INFINITY {
        0.0
    } else {
        fraction(value_log2, max_log2).max(MIN_SHADE)
    }
}

/// A label shortened to at most 9 characters: integers of more than 9 digits are written
/// `d.ddde+N`, so the colour bar of a deep stack stays readable.
#[must_use]
pub fn short_label(label: &str) -> String {
    let digits = label.len();
    if digits <= 9 || !label.bytes().all(|b| b.is_ascii_digit()) {
        return label.to_owned();
    }
    format!("{}.{}e{}", &label[..1], &label[1..4], digits - 1)
}

/// Ticks of the colour bar for a scale from 0 to `max`: `(fraction, label)` pairs at
/// round values, the top one at `max` itself (exact, shortened with [`short_label`]).
#[must_use]
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss
)]
pub fn bar_ticks<T: HeatValue + ?Sized>(max: &T) -> Vec<(f64, String)> {
    let max_log2 = max.log2();
    let mut ticks = vec![(0.0, "0".to_owned())];
    if max_log2 == f64::NEG_INFINITY {
        return ticks;
    }
    let top = max.to_string();
    if max_log2 < 50.0 {
        let m = max_log2.exp2();
        // The smallest step of the 1, 2, 5 × 10ⁿ sequence giving at most six ticks.
        let mut k = 0_i32;
        let step = loop {
            let s = [1.0, 2.0, 5.0][(k % 3) as usize] * 10f64.powi(k / 3);
            if m / s <= 6.0 {
                break s;
            }
            k += 1;
        };
        let mut v = step;
        while v < m * 0.9 {
            let label = format!("{}", v as u64);
            ticks.push((v / m, short_label(&label)));
            v += step;
        }
    }
    ticks.push((1.0, short_label(&top)));
    ticks
}

/// Ticks of one axis of `n` cells of side `cell` whose first cell is at offset `origin`:
/// `(index, offset)` pairs at multiples of the smallest round step (1, 2, 5 × 10ⁿ) that puts
/// at least `spacing` pixels between two labels. Offset 0 is always among them when it is
/// on the axis.
#[must_use]
pub fn axis_ticks(n: usize, origin: i64, cell: u32, spacing: u32) -> Vec<(usize, i64)> {
    let need = u64::from(spacing);
    let cell = u64::from(cell.max(1));
    let mut step: u64 = 1;
    let mut k = 0;
    while step * cell < need {
        step = [1, 2, 5][k % 3] * 10u64.pow(u32::try_from(k / 3).unwrap_or(0));
        k += 1;
        if k > 60 {
            break;
        }
    }
    let step = i64::try_from(step).unwrap_or(i64::MAX);
    (0..n)
        .filter_map(|i| {
            let offset = origin.checked_add(i64::try_from(i).ok()?)?;
            (offset % step == 0).then_some((i, offset))
        })
        .collect()
}

/// CRC-32 (ISO 3309, as PNG chunks use).
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Adler-32 (the zlib stream checksum).
fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in bytes.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= 65_521;
        b %= 65_521;
    }
    (b << 16) | a
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&to_u32(data.len()).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// An 8-bit indexed PNG, its zlib stream made of stored (uncompressed) blocks: no
/// compression library needed, and every byte is checked by the format's own CRCs.
fn png_indexed(width: u32, height: u32, palette: &[[u8; 3]], pixels: &[u8]) -> Vec<u8> {
    let mut raw = Vec::with_capacity(pixels.len() + height as usize);
    for row in pixels.chunks(width.max(1) as usize) {
        raw.push(0); // filter: none
        raw.extend_from_slice(row);
    }
    let mut z = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        z.push(u8::from(i + 1 == blocks.len()));
        let len = u16::try_from(block.len()).unwrap_or(u16::MAX);
        z.extend_from_slice(&len.to_le_bytes());
        z.extend_from_slice(&(!len).to_le_bytes());
        z.extend_from_slice(block);
    }
    z.extend_from_slice(&adler32(&raw).to_be_bytes());
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 3, 0, 0, 0]); // 8 bits, indexed, deflate, no filter, no interlace
    let mut out = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    png_chunk(&mut out, b"IHDR", &ihdr);
    png_chunk(&mut out, b"PLTE", &palette.concat());
    png_chunk(&mut out, b"IDAT", &z);
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// How far below a line's vertical centre its baseline sits, for digits of font size
/// `size` (`dominant-baseline` is not inherited in SVG 1.1 and renderers differ on it).
fn baseline(size: u32) -> f64 {
    0.35 * f64::from(size)
}

fn hex(c: [u8; 3]) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(ch),
        }
    }
    out
}

/// The largest count of a map (`None` when the map has no cell).
pub fn max_value<T: HeatValue>(map: &[Vec<T>]) -> Option<&T> {
    map.iter()
        .flatten()
        .fold(None, |best: Option<&T>, v| match best {
            Some(b) if b.log2() >= v.log2() => Some(b),
            _ => Some(v),
        })
}

/// Lays out `map` the way [`svg`] draws it: label lengths are measured from the counts
/// and the axis offsets.
#[must_use]
pub fn layout<T: HeatValue>(map: &[Vec<T>], options: &Options) -> Layout {
    let rows = map.len();
    let cols = map.iter().map(Vec::len).max().unwrap_or(0);
    let label_chars = map
        .iter()
        .flatten()
        .map(|v| v.to_string().len())
        .max()
        .unwrap_or(1);
    let bar_chars = match max_value(map) {
        Some(m) => bar_ticks(m).iter().map(|(_, l)| l.len()).max().unwrap_or(1),
        None => 1,
    };
    Layout::new(rows, cols, label_chars, bar_chars, options)
}

fn axis_label_chars(n: usize, origin: i64) -> usize {
    let last = origin
        .saturating_add(i64::try_from(n).unwrap_or(i64::MAX))
        .saturating_sub(1);
    origin.to_string().len().max(last.to_string().len())
}

/// Renders `map` (rows of counts, `map[row][col]`) as a standalone SVG document in the
/// classic figure's style. Rows shorter than the longest are padded with empty cells.
///
/// Cells of equal colour on a row are merged into one `<rect>`; counts are `<text>`
/// elements, written only when they fit in a cell. Maps whose cells are too small to read
/// (no labels, cells under 8 px) are drawn as one embedded 8-bit indexed PNG, one pixel
/// a cell, scaled up without smoothing: a 1,024-wide map takes about 1.4 MB instead of
/// tens. The document has no ids, no XML prolog and no blank line, so several pictures
/// can be inlined in one HTML page (rustdoc) as they are.
#[must_use]
pub fn svg<T: HeatValue>(map: &[Vec<T>], options: &Options) -> String {
    let l = layout(map, options);
    let paint = Paint {
        max_log2: max_value(map).map_or(f64::NEG_INFINITY, HeatValue::log2),
        // Cells too small for labels are painted in 64 shades (as many as the colour bar
        // has): longer runs of one colour keep a 1,024-wide map's SVG small.
        quantise: l.label_scale.is_none() && l.cell < 8,
    };
    let mut s = String::new();
    // `write!` into a String cannot fail.
    header(&mut s, &l, options.title.as_deref());
    let _ = writeln!(s, r#"<g shape-rendering="crispEdges">"#);
    if paint.quantise && l.rows > 0 && l.cols > 0 {
        cells_as_png(&mut s, map, &l, &paint);
    } else {
        cells_as_rects(&mut s, map, &l, &paint);
    }
    grid(&mut s, &l);
    let _ = writeln!(s, "</g>");
    counts(&mut s, map, &l, &paint);
    offset_ticks(&mut s, &l);
    colour_bar(&mut s, map, &l);
    s.push_str("</svg>\n");
    s
}

/// How [`svg`] colours a cell: the shade of its count against the largest, rounded to 64
/// steps when `quantise`.
struct Paint {
    max_log2: f64,
    quantise: bool,
}

impl Paint {
    fn fill<T: HeatValue>(&self, v: &T) -> [u8; 3] {
        let t = shade(v.log2(), self.max_log2);
        colour(if self.quantise {
            (t * 64.0).round() / 64.0
        } else {
            t
        })
    }

    /// The palette index of the embedded PNG: 0 for a zero count, 1..=64 otherwise.
    fn level<T: HeatValue>(&self, v: &T) -> u8 {
        let t = shade(v.log2(), self.max_log2);
        if t == 0.0 {
            0
        } else {
            (t * 64.0).round().clamp(1.0, 64.0) as u8
        }
    }
}

/// The `<svg>` element, the title, the white background and the caption.
fn header(s: &mut String, l: &Layout, title: Option<&str>) {
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace">"#,
        w = l.width,
        h = l.height
    );
    if let Some(title) = title {
        let _ = writeln!(s, "<title>{}</title>", escape(title));
    }
    let _ = writeln!(
        s,
        r##"<rect width="{}" height="{}" fill="#ffffff"/>"##,
        l.width, l.height
    );
    if let Some(title) = title {
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{:.1}" font-size="{}">{}</text>"#,
            l.grid_left,
            f64::from(8 + l.title_height / 2) + baseline(10 * l.text_scale + 2),
            10 * l.text_scale + 2,
            escape(title)
        );
    }
}

/// Cells too small to read: one pixel per cell in an embedded indexed PNG, scaled up
/// without smoothing (a 1,024-wide map in about 1.4 MB instead of tens).
fn cells_as_png<T: HeatValue>(s: &mut String, map: &[Vec<T>], l: &Layout, paint: &Paint) {
    let palette: Vec<[u8; 3]> = (0..=64u8).map(|i| colour(f64::from(i) / 64.0)).collect();
    let mut pixels = vec![0u8; l.rows * l.cols];
    for (r, row) in map.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            pixels[r * l.cols + c] = paint.level(v);
        }
    }
    let png = png_indexed(to_u32(l.cols), to_u32(l.rows), &palette, &pixels);
    let _ = writeln!(
        s,
        r#"<image x="{}" y="{}" width="{}" height="{}" preserveAspectRatio="none" image-rendering="optimizeSpeed" style="image-rendering:pixelated" xlink:href="data:image/png;base64,{}"/>"#,
        l.grid_left,
        l.grid_top,
        l.grid_right() - l.grid_left,
        l.grid_bottom() - l.grid_top,
        base64(&png)
    );
}

/// Cells as rectangles: one per run of one colour on a row (white runs left out).
fn cells_as_rects<T: HeatValue>(s: &mut String, map: &[Vec<T>], l: &Layout, paint: &Paint) {
    for (r, row) in map.iter().enumerate() {
        let mut c = 0;
        while c < row.len() {
            let fill = paint.fill(&row[c]);
            let mut end = c + 1;
            while end < row.len() && paint.fill(&row[end]) == fill {
                end += 1;
            }
            if fill != [255, 255, 255] {
                let (x, y) = l.cell_origin(r, c);
                let _ = writeln!(
                    s,
                    r#"<rect x="{x}" y="{y}" width="{}" height="{}" fill="{}"/>"#,
                    to_u32(end - c) * l.cell,
                    l.cell,
                    hex(fill)
                );
            }
            c = end;
        }
    }
}

/// Black lines between the cells (when they are large enough) and the frame of the grid.
fn grid(s: &mut String, l: &Layout) {
    if l.grid_lines && l.rows > 0 && l.cols > 0 {
        let mut d = String::new();
        for r in 1..l.rows {
            let y = l.grid_top + to_u32(r) * l.cell;
            let _ = write!(d, "M{} {y}H{}", l.grid_left, l.grid_right());
        }
        for c in 1..l.cols {
            let x = l.grid_left + to_u32(c) * l.cell;
            let _ = write!(d, "M{x} {}V{}", l.grid_top, l.grid_bottom());
        }
        if !d.is_empty() {
            let _ = writeln!(
                s,
                r##"<path d="{d}" stroke="#000000" stroke-width="1" fill="none"/>"##
            );
        }
    }
    let _ = writeln!(
        s,
        r##"<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#000000" stroke-width="1"/>"##,
        l.grid_left,
        l.grid_top,
        l.grid_right() - l.grid_left,
        l.grid_bottom() - l.grid_top
    );
}

/// The count in each cell, when the counts fit (black or white ink, whichever reads).
fn counts<T: HeatValue>(s: &mut String, map: &[Vec<T>], l: &Layout, paint: &Paint) {
    let Some(scale) = l.label_scale else {
        return;
    };
    let _ = writeln!(s, r#"<g font-size="{}" text-anchor="middle">"#, 10 * scale);
    for (r, row) in map.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            let fill = paint.fill(v);
            let (x, y) = l.cell_origin(r, c);
            let half = l.cell / 2;
            let ink = text_colour(fill);
            let attr = if ink == [0, 0, 0] {
                String::new()
            } else {
                format!(r#" fill="{}""#, hex(ink))
            };
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{:.1}"{attr}>{v}</text>"#,
                x + half,
                f64::from(y + half) + baseline(10 * scale)
            );
        }
    }
    let _ = writeln!(s, "</g>");
}

/// Axis ticks: offsets relative to the output position, below the grid and on its left.
fn offset_ticks(s: &mut String, l: &Layout) {
    let fs = 10 * l.text_scale;
    let _ = writeln!(s, r##"<g font-size="{fs}" fill="#333333">"##);
    for (i, off) in l.x_ticks() {
        let (x, _) = l.cell_origin(0, i);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{:.1}" text-anchor="middle">{off}</text>"#,
            x + l.cell / 2,
            f64::from(l.x_axis_top()) + 0.75 * f64::from(fs)
        );
    }
    for (i, off) in l.y_ticks() {
        let (_, y) = l.cell_origin(i, 0);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{off}</text>"#,
            l.grid_left - 6,
            f64::from(y + l.cell / 2) + baseline(fs)
        );
    }
    let _ = writeln!(s, "</g>");
}

/// The colour bar: 64 bands (no gradient ids, so several pictures can share one page),
/// its frame, and its ticks up to the largest count.
fn colour_bar<T: HeatValue>(s: &mut String, map: &[Vec<T>], l: &Layout) {
    let fs = 10 * l.text_scale;
    let _ = writeln!(s, r#"<g shape-rendering="crispEdges">"#);
    let bands = 64u32;
    for b in 0..bands {
        let t0 = f64::from(b) / f64::from(bands);
        let t1 = f64::from(b + 1) / f64::from(bands);
        let (y_top, y_bottom) = (l.bar_y(t1), l.bar_y(t0));
        let _ = writeln!(
            s,
            r#"<rect x="{}" y="{y_top}" width="{}" height="{}" fill="{}"/>"#,
            l.bar_left,
            l.bar_width,
            y_bottom - y_top,
            hex(colour((t0 + t1) / 2.0))
        );
    }
    let _ = writeln!(
        s,
        r##"<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#000000" stroke-width="1"/>"##,
        l.bar_left, l.bar_top, l.bar_width, l.bar_height
    );
    let _ = writeln!(s, "</g>");
    let ticks = match max_value(map) {
        Some(m) => bar_ticks(m),
        None => vec![(0.0, "0".to_owned())],
    };
    let _ = writeln!(s, r#"<g font-size="{fs}">"#);
    for (t, label) in ticks {
        let y = l.bar_y(t);
        let x = l.bar_left + l.bar_width;
        let _ = writeln!(
            s,
            r##"<path d="M{x} {y}h4" stroke="#000000"/><text x="{}" y="{:.1}">{}</text>"##,
            x + 8,
            f64::from(y) + baseline(fs),
            escape(&label)
        );
    }
    let _ = writeln!(s, "</g>");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outer(row: &[u64]) -> Vec<Vec<u64>> {
        row.iter()
            .map(|&a| row.iter().map(|&b| a * b).collect())
            .collect()
    }

    #[test]
    fn palette_is_white_blue_red() {
        assert_eq!(colour(0.0), [255, 255, 255]);
        assert_eq!(colour(0.5), [0, 0, 255]);
        assert_eq!(colour(1.0), [255, 0, 0]);
        assert_eq!(colour(0.25), [128, 128, 255]);
        assert_eq!(colour(f64::NAN), [255, 255, 255]);
        assert_eq!(text_colour([255, 255, 255]), [0, 0, 0]);
        assert_eq!(text_colour([0, 0, 255]), [255, 255, 255]);
        assert_eq!(text_colour([255, 0, 0]), [255, 255, 255]);
    }

    #[test]
    fn fraction_handles_zero_and_huge_counts() {
        assert_eq!(fraction(f64::NEG_INFINITY, 10.0), 0.0);
        assert!((fraction(9.0, 10.0) - 0.5).abs() < 1e-12);
        // Counts near 2^2000 (beyond f64) still compare through their logarithms.
        assert!((fraction(1999.0, 2000.0) - 0.5).abs() < 1e-12);
        // A count of 1 beside a maximum of 2^20 is still tinted, never hole-white.
        assert_eq!(shade(f64::NEG_INFINITY, 20.0), 0.0);
        assert!((shade(0.0, 20.0) - MIN_SHADE).abs() < 1e-12);
        assert_ne!(colour(shade(0.0, 20.0)), [255, 255, 255]);
    }

    #[test]
    fn zero_cells_are_white_and_every_count_is_written() {
        // k = 3, rates [2, 4]: the 1D counts over offsets −6..=6 (every odd offset a hole).
        let row = [1u64, 0, 1, 0, 1, 0, 3, 0, 1, 0, 1, 0, 1];
        let map = outer(&row);
        let picture = svg(
            &map,
            &Options {
                origin: (-6, -6),
                ..Options::default()
            },
        );
        let texts = picture.matches("</text>").count();
        // 169 counts + 13 + 13 axis ticks at least partly + colour bar ticks.
        let cell_labels = picture.matches(">0</text>").count();
        assert!(cell_labels >= 13 * 13 - 49, "{cell_labels}");
        assert!(texts >= 169);
        assert!(picture.contains(">9</text>"));
        // The centre (count 9, the maximum) is red; the cells of count 1 are light.
        assert!(picture.contains(r##"fill="#ff0000""##));
        assert!(picture.contains(&hex(colour(1.0 / 9.0))));
        // No white cell rectangle is drawn (white is the background).
        assert!(!picture.contains(r##"height="40" fill="#ffffff""##));
        assert!(picture.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn runs_of_one_colour_merge_into_one_rect() {
        let map = vec![vec![1u8; 5], vec![0u8; 5]];
        let l = layout(&map, &Options::default());
        let picture = svg(&map, &Options::default());
        let wide = format!(
            r##"width="{}" height="{}" fill="#ff0000""##,
            5 * l.cell,
            l.cell
        );
        assert_eq!(picture.matches(&wide).count(), 1, "{picture}");
    }

    #[test]
    fn labels_are_dropped_when_they_do_not_fit() {
        let map = vec![vec![123_456_789u64; 3]; 3];
        let l = layout(
            &map,
            &Options {
                cell: Some(10),
                ..Options::default()
            },
        );
        assert_eq!(l.label_scale, None);
        let picture = svg(
            &map,
            &Options {
                cell: Some(10),
                ..Options::default()
            },
        );
        // Only the colour bar names the count, once.
        assert_eq!(picture.matches(">123456789</text>").count(), 1);
    }

    #[test]
    fn large_maps_get_small_cells_and_no_grid_lines() {
        let l = Layout::new(1024, 1024, 3, 5, &Options::default());
        assert_eq!(l.cell, 2);
        assert!(!l.grid_lines);
        assert_eq!(l.label_scale, None);
        assert!(l.width > 2048 && l.height > 2048);
        let small = Layout::new(7, 7, 1, 2, &Options::default());
        assert_eq!(small.cell, 40);
        assert!(small.grid_lines);
        assert!(small.label_scale.is_some());
    }

    #[test]
    fn bar_ticks_are_round_and_end_at_the_maximum() {
        let ticks = bar_ticks(&27u32);
        assert_eq!(ticks.first().map(|t| t.1.as_str()), Some("0"));
        assert_eq!(ticks.last().map(|t| t.1.as_str()), Some("27"));
        let labels: Vec<_> = ticks.iter().map(|t| t.1.clone()).collect();
        assert_eq!(labels, ["0", "5", "10", "15", "20", "27"]);
        let big = bar_ticks(&u128::MAX);
        assert_eq!(big.len(), 2);
        assert_eq!(big[1].1, "3.402e38");
        assert_eq!(bar_ticks(&0u8), vec![(0.0, "0".to_owned())]);
    }

    #[test]
    fn axis_ticks_include_the_centre() {
        let t = axis_ticks(29, -14, 33, 42);
        assert!(t.contains(&(14, 0)));
        assert!(
            t.iter()
                .all(|&(i, off)| off == -14 + i64::try_from(i).unwrap())
        );
        // With 2 px cells only every 20th or so offset is labelled.
        let t = axis_ticks(1023, -511, 2, 54);
        assert!(t.len() < 60 && t.contains(&(511, 0)));
    }

    #[test]
    fn empty_and_ragged_maps_render() {
        let empty: Vec<Vec<u32>> = Vec::new();
        assert!(svg(&empty, &Options::default()).ends_with("</svg>\n"));
        let ragged = vec![vec![1u32, 2, 3], vec![4]];
        let picture = svg(&ragged, &Options::default());
        assert!(picture.contains(">4</text>"));
    }

    #[test]
    fn checksums_and_base64_match_their_standards() {
        assert_eq!(crc32(b"IEND"), 0xae42_6082);
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64(b"Ma"), "TWE=");
        assert_eq!(base64(b"M"), "TQ==");
        let png = png_indexed(2, 1, &[[255, 255, 255], [255, 0, 0]], &[0, 1]);
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert!(png.ends_with(&[0xae, 0x42, 0x60, 0x82]));
    }

    #[test]
    fn large_maps_embed_one_pixel_per_cell() {
        let row: Vec<u64> = (0..300u64).map(|i| i % 7).collect();
        let map = outer(&row);
        let picture = svg(&map, &Options::default());
        assert!(picture.contains("data:image/png;base64,"));
        assert!(picture.len() < 400_000, "{}", picture.len());
        assert!(!picture.contains("</text><text")); // no per-cell labels
    }

    #[test]
    fn titles_are_escaped() {
        let map = vec![vec![1u32]];
        let picture = svg(
            &map,
            &Options {
                title: Some("k = 3, rates <2, 4> & 8".into()),
                ..Options::default()
            },
        );
        assert!(picture.contains("<title>k = 3, rates &lt;2, 4&gt; &amp; 8</title>"));
    }
}
