//! Drives the built `dilated` binary: exit codes, one-line errors, the classic schedules,
//! JSON fields, exact big counts, the map as text, JSON, PNG and SVG.

use std::path::PathBuf;
use std::process::{Command, Output};

use dilated_core::heatmap;
use num_bigint::BigUint;
use serde_json::Value;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dilated"))
        .args(args)
        .output()
        .expect("the dilated binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit 2, exactly one line on stderr starting with `error:`, nothing on stdout, no panic.
fn bad(args: &[&str], needle: &str) {
    let o = run(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(
        err.lines().count(),
        1,
        "{args:?}: one line on stderr, got {err:?}"
    );
    assert!(err.starts_with("error: "), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    assert!(
        err.contains(needle),
        "{args:?}: expected {needle:?} in {err:?}"
    );
    assert!(o.stdout.is_empty(), "{args:?}: stdout {:?}", stdout(&o));
}

fn json(args: &[&str]) -> (Value, i32) {
    let o = run(args);
    let code = o.status.code().unwrap_or(-1);
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", stdout(&o)));
    (v, code)
}

fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_i64().unwrap_or_else(|| panic!("not an integer: {x}")))
        .collect()
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dilated-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

// ---- bad input: one test per class --------------------------------------------------

#[test]
fn rate_zero() {
    bad(
        &["check", "--kernel", "3", "--rates", "1,0,2"],
        "layer 2: rate must be at least 1",
    );
}

#[test]
fn negative_numbers() {
    bad(&["check", "--rates", "-1,2"], "negative");
    bad(&["check", "--rates=1,-2"], "negative");
    bad(&["check", "--kernel", "-3", "--rates", "1"], "negative");
    bad(&["suggest", "--layers", "-6", "--min-rf", "10"], "negative");
}

#[test]
fn non_numbers() {
    bad(&["check", "--rates", "a,b"], "not a number");
    bad(&["check", "--rates", "1.5"], "not an integer");
    bad(&["check", "--rates", "1", "--input", "big"], "not a number");
    bad(
        &["suggest", "--layers", "6", "--min-rf", "x"],
        "not a number",
    );
}

#[test]
fn empty_and_malformed_lists() {
    bad(&["check", "--rates", ""], "empty");
    bad(&["check", "--rates", "[]"], "empty");
    bad(&["check", "--rates", "1,,2"], "entry 2");
    bad(&["check", "--rates", "1,2,"], "entry 3");
    bad(&["check", "--rates", "[1,2"], "bracket");
}

#[test]
fn kernel_zero() {
    bad(
        &["check", "--kernel", "0", "--rates", "1,2"],
        "kernel size must be at least 1",
    );
    bad(
        &["map", "--kernel", "0", "--rates", "1"],
        "kernel size must be at least 1",
    );
    bad(
        &["suggest", "--kernel", "0", "--layers", "3", "--min-rf", "5"],
        "kernel size",
    );
}

#[test]
fn stride_zero() {
    bad(
        &["check", "--rates", "1,2", "--strides", "1,0"],
        "stride must be at least 1",
    );
}

#[test]
fn lists_of_different_lengths() {
    bad(
        &["check", "--kernels", "3,5", "--rates", "1,2,5"],
        "kernels has 2 entries, expected 3",
    );
    bad(
        &["check", "--rates", "1,2", "--strides", "1,2,3"],
        "strides has 3 entries, expected 2",
    );
}

#[test]
fn values_near_u64_max() {
    let max = u64::MAX.to_string();
    bad(&["check", "--rates", &max], "overflows");
    bad(&["check", "--kernel", &max, "--rates", "1"], "overflows");
    bad(&["check", "--rates", "18446744073709551616"], "too large");
    bad(&["map", "--rates", &format!("1,{max}")], "overflows");
    bad(
        &["suggest", "--layers", &max, "--min-rf", "5"],
        "over the limit of 10000 layers",
    );
    bad(
        &["suggest", "--layers", "6", "--min-rf", &max],
        "no hole-free schedule",
    );
    // A huge input is fine: it only enables the long-range checks.
    let o = run(&["check", "--rates", "1,2,5", "--input", &max]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn too_many_layers() {
    let rates = vec!["1"; 10_001].join(",");
    bad(
        &["check", "--rates", &rates],
        "10001 layers is over the limit of 10000 layers",
    );
}

#[test]
fn receptive_field_over_the_verdict_limit() {
    bad(
        &["check", "--rates", "40000000"],
        "receptive field 80000001 is over the limit",
    );
}

#[test]
fn map_over_its_size_limit() {
    // k = 3, rates 1, 2, …, 256 has a receptive field of 1,023; one more layer of rate 1
    // makes it 1,025, over the 1,024 limit.
    bad(
        &["map", "--rates", "1,2,4,8,16,32,64,128,256,1"],
        "1025-wide map is over the limit of 1024",
    );
}

#[test]
fn suggest_that_nothing_satisfies() {
    bad(
        &[
            "suggest", "--kernel", "3", "--layers", "3", "--min-rf", "28",
        ],
        "no hole-free schedule of 3 layers",
    );
    bad(&["suggest", "--layers", "0", "--min-rf", "5"], "no layer");
}

#[test]
fn usage_errors() {
    bad(&[], "no command given");
    bad(&["check"], "--rates");
    bad(&["check", "--rates", "1", "--bogus"], "--bogus");
    bad(&["frobnicate"], "frobnicate");
    bad(
        &["check", "--rates", "1", "--deny", "everything"],
        "unknown check 'everything': expected one of holes, gridding, hdc, hdc1, hdc2, hdc3, no_output, long_range",
    );
    bad(
        &["check", "--rates", "1,2", "--input", "0"],
        "input size must be at least 1",
    );
    bad(&["map", "--rates", "1,2", "--cell", "0"], "give 1 to 64");
}

#[test]
fn picture_over_its_size_limit() {
    let path = temp("too-big.png");
    let wide = "2,4,8,16,32,64,128,256"; // 1,021 cells a side
    bad(
        &[
            "map",
            "--rates",
            wide,
            "--cell",
            "64",
            "--png",
            path.to_str().unwrap(),
        ],
        "over the limit of 16384 pixels",
    );
    assert!(!path.exists());
}

#[test]
fn unwritable_picture() {
    bad(
        &[
            "map",
            "--rates",
            "1,2",
            "--png",
            "/nonexistent-dir/x/map.png",
        ],
        "cannot write",
    );
}

#[test]
fn help_exits_zero_and_documents_the_limits() {
    let o = run(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let h = stdout(&o);
    for needle in [
        "check",
        "map",
        "suggest",
        "10,000 layers",
        "131,072",
        "1,024",
    ] {
        assert!(h.contains(needle), "{needle} in {h}");
    }
}

// ---- the classic schedules ----------------------------------------------------------

#[test]
fn equal_factors_grid_every_odd_offset() {
    let o = run(&["check", "--kernel", "3", "--rates", "2,4,8"]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(
        text.contains("gridding") && text.contains("holes"),
        "{text}"
    );
    assert!(text.contains("error[hdc3]"), "{text}");
    assert!(text.contains("help:"), "a fix is suggested: {text}");

    let (v, code) = json(&["check", "--kernel", "3", "--rates", "2,4,8", "--json"]);
    assert_eq!(code, 1);
    assert_eq!(v["receptive_field"], 29);
    let odd: Vec<i64> = (-13..=13).filter(|x: &i64| x.rem_euclid(2) == 1).collect();
    assert_eq!(ints(&v["holes"]), odd);
    assert_eq!(v["hole_count"], 14);
    let coverage = ints(&v["coverage"]);
    assert_eq!(coverage.len(), 29);
    for (i, c) in coverage.iter().enumerate() {
        assert_eq!(*c == 0, i % 2 == 1, "offset {}", i as i64 - 14);
    }
    assert_eq!(
        coverage.iter().sum::<i64>(),
        27,
        "3 layers of 3 taps: 3^3 paths"
    );
    assert_eq!(v["hdc"]["rule3"], false);
    assert_eq!(v["hdc"]["gcd"], 2);
    assert_eq!(v["hdc"]["rule1"], false);
    assert_eq!(v["verdict"], "error");
    assert!(v["suggestions"].as_array().is_some_and(|s| !s.is_empty()));
}

#[test]
fn hdc_example_covers_its_field() {
    let (v, code) = json(&["check", "--kernel", "3", "--rates", "1,2,5", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(v["receptive_field"], 17);
    assert_eq!(v["hole_count"], 0);
    assert_eq!(ints(&v["holes"]), Vec::<i64>::new());
    assert_eq!(ints(&v["hdc"]["m"]), [1, 2, 5]); // M_2 = 2 ≤ 3
    assert_eq!(
        (&v["hdc"]["rule1"], &v["hdc"]["rule2"], &v["hdc"]["rule3"]),
        (&Value::Bool(true), &Value::Bool(true), &Value::Bool(true))
    );
    assert_eq!(v["hdc"]["gcd"], 1);
    let coverage = ints(&v["coverage"]);
    assert_eq!(coverage.len(), 17);
    assert!(coverage.iter().all(|&c| c > 0));
    assert_eq!(v["verdict"], "ok");
    assert_eq!(v["diagnostics"].as_array().map(Vec::len), Some(0));
    let text = stdout(&run(&["check", "--rates", "1,2,5"]));
    assert!(text.contains("no holes"), "{text}");
}

#[test]
fn rate_nine_leaves_holes_at_four_and_five() {
    let (v, code) = json(&["check", "--kernel", "3", "--rates", "1,2,9", "--json"]);
    assert_eq!(code, 1);
    assert_eq!(ints(&v["holes"]), [-5, -4, 4, 5]);
    assert_eq!(v["diagnostics"][0]["check"], "holes");
    assert_eq!(v["diagnostics"][0]["level"], "error");
}

#[test]
fn receptive_fields_and_padding_per_layer() {
    let (v, code) = json(&[
        "check", "--kernel", "3", "--rates", "1,2,4", "--input", "32", "--json",
    ]);
    assert_eq!(code, 0);
    let layers = v["layers"].as_array().unwrap();
    let rf: Vec<i64> = layers
        .iter()
        .map(|l| l["receptive_field"].as_i64().unwrap())
        .collect();
    assert_eq!(rf, [3, 7, 15]);
    let ek: Vec<i64> = layers
        .iter()
        .map(|l| l["effective_kernel"].as_i64().unwrap())
        .collect();
    assert_eq!(ek, [3, 5, 9]);
    // `same` padding, the worked example: I = 32, k = 3, d = 2 → p = 2, output 32.
    assert_eq!(layers[1]["padding"], 2);
    assert_eq!(
        (&layers[1]["padding_lo"], &layers[1]["padding_hi"]),
        (&2.into(), &2.into())
    );
    assert_eq!(layers[1]["output_size"], 32);
    // An even kernel splits `same` padding as PyTorch does: total 1 → (0, 1).
    let (v, _) = json(&["check", "--kernel", "2", "--rates", "1", "--json"]);
    assert_eq!(ints(&v["layers"][0]["padding"]), [0, 1]);
}

#[test]
fn repeated_sawtooth_passes() {
    let (v, code) = json(&["check", "--kernel", "3", "--rates", "1,2,5,1,2,5", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(v["hole_count"], 0);
    assert_eq!(v["hdc"]["rule1"], true);
    // M is computed within each rising group, in layer order.
    assert_eq!(ints(&v["hdc"]["m"]), [1, 2, 5, 1, 2, 5]);
    assert_eq!(v["verdict"], "ok");
}

#[test]
fn two_three_has_holes_although_rules_one_and_three_pass() {
    let (v, code) = json(&["check", "--kernel", "3", "--rates", "2,3", "--json"]);
    assert_eq!(code, 1);
    assert_eq!(ints(&v["holes"]), [-4, 4]);
    assert_eq!(v["hdc"]["rule1"], true);
    assert_eq!(v["hdc"]["rule3"], true);
    let text = stdout(&run(&["check", "--rates", "2,3"]));
    assert!(text.contains("gridding"), "{text}");
}

#[test]
fn hdc_warnings_exit_zero_unless_strict() {
    // [1, 2, 2]: no hole, but rate 2 repeats (rule 2).
    let (v, code) = json(&["check", "--rates", "1,2,2", "--json"]);
    assert_eq!(
        (code, v["hole_count"].as_i64(), v["hdc"]["rule2"].as_bool()),
        (0, Some(0), Some(false))
    );
    assert_eq!(v["verdict"], "warning");
    assert_eq!(
        run(&["check", "--rates", "1,2,2", "--strict-hdc"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        run(&["check", "--rates", "1,2,2", "--deny", "hdc2"])
            .status
            .code(),
        Some(1)
    );
    // [1, 1, 4]: no hole, M_2 = 4 > 3 in the rising group [1, 4] (rule 1).
    let (v, code) = json(&["check", "--rates", "1,1,4", "--json"]);
    assert_eq!(
        (code, v["hole_count"].as_i64(), v["hdc"]["rule1"].as_bool()),
        (0, Some(0), Some(false))
    );
    assert_eq!(
        run(&["check", "--rates", "1,1,4", "--strict-hdc"])
            .status
            .code(),
        Some(1)
    );
    // Allowing the holes check turns a gridding schedule's exit to 0 only if rule 3 is
    // allowed too.
    assert_eq!(
        run(&[
            "check", "--rates", "2,4,8", "--allow", "holes", "--allow", "hdc3"
        ])
        .status
        .code(),
        Some(0)
    );
}

#[test]
fn long_range_warns_and_strides_make_rule_one_not_applicable() {
    let o = run(&["check", "--rates", "1,2,5", "--input", "10"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("warning[long_range]"), "{}", stdout(&o));
    let (v, _) = json(&[
        "check",
        "--kernel",
        "3",
        "--rates",
        "1,2,5",
        "--strides",
        "2,1,1",
        "--json",
    ]);
    assert_eq!(v["hdc"]["rule1"], Value::Null);
    assert!(v["hdc"]["gcd"].is_u64());
    let (v, _) = json(&["check", "--kernels", "3,5,3", "--rates", "1,2,3", "--json"]);
    assert_eq!(v["hdc"]["rule1"], Value::Null);
    assert_eq!(ints(&v["schedule"]["kernels"]), [3, 5, 3]);
}

// ---- JSON at scale ----------------------------------------------------------------------

#[test]
fn counts_past_u128_are_exact_json_integers() {
    // 100 layers of k = 3, rate 1: 3^100 paths in all, the largest count far past u128.
    let rates = vec!["1"; 100].join(",");
    let o = run(&["check", "--rates", &rates, "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    #[derive(serde::Deserialize)]
    struct Raw {
        coverage: Vec<Box<serde_json::value::RawValue>>,
    }
    let raw: Raw = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(raw.coverage.len(), 201);
    let counts: Vec<BigUint> = raw
        .coverage
        .iter()
        .map(|r| {
            r.get()
                .parse::<BigUint>()
                .unwrap_or_else(|_| panic!("not an integer: {}", r.get()))
        })
        .collect();
    let total: BigUint = counts.iter().sum();
    assert_eq!(total, BigUint::from(3u8).pow(100));
    assert!(counts[100] > BigUint::from(u128::MAX));
    assert_eq!(counts[0], BigUint::from(1u8));
    assert_eq!(counts[1], BigUint::from(100u8)); // one tap at −1 among 99 centre taps
}

#[test]
fn huge_schedule_reports_the_verdict_without_counts() {
    // 1,000 layers, rates up to 10,000 (a fixed pseudo-random sequence).
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let rates: Vec<String> = (0..1000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 10_000 + 1).to_string()
        })
        .collect();
    let (v, code) = json(&[
        "check",
        "--kernel",
        "3",
        "--rates",
        &rates.join(","),
        "--json",
    ]);
    assert!(code == 0 || code == 1);
    let rf = v["receptive_field"].as_u64().unwrap();
    assert!(rf > 131_072, "{rf}");
    assert_eq!(v["coverage"], Value::Null);
    assert_eq!(v["holes"], Value::Null);
    assert!(v["hole_count"].is_u64());
    assert_eq!(
        code == 1,
        v["hole_count"].as_u64() != Some(0) || v["hdc"]["rule3"] == false
    );
    assert_eq!(v["hdc"]["m"].as_array().map(Vec::len), Some(1000));
    assert!(v["hdc"]["gcd"].is_u64());
    assert_eq!(v["layers"].as_array().map(Vec::len), Some(1000));
    assert!(
        v["coverage_note"]
            .as_str()
            .is_some_and(|s| s.contains("over the limit"))
    );
}

// ---- map ---------------------------------------------------------------------------------

fn map_json(args: &[&str]) -> Vec<Vec<i64>> {
    let mut a = vec!["map"];
    a.extend_from_slice(args);
    a.push("--json");
    let (v, code) = json(&a);
    assert_eq!(code, 0);
    v["map"].as_array().unwrap().iter().map(ints).collect()
}

#[test]
fn map_json_is_the_outer_product_trimmed_to_the_field() {
    let (check, _) = json(&["check", "--rates", "2,4,8", "--json"]);
    let row = ints(&check["coverage"]);
    let map = map_json(&["--kernel", "3", "--rates", "2,4,8"]);
    assert_eq!(map.len(), 29);
    for (y, r) in map.iter().enumerate() {
        assert_eq!(r.len(), 29);
        for (x, &c) in r.iter().enumerate() {
            assert_eq!(c, row[y] * row[x]);
        }
    }
    // Trimmed: the first and last rows and columns are reached.
    assert!(map[0].iter().any(|&c| c > 0) && map[28].iter().any(|&c| c > 0));
    assert!(
        map.iter()
            .all(|r| r[0] > 0 || r[28] > 0 || r.iter().all(|&c| c == 0))
    );
    assert_eq!(map[14][14], 1);
    assert_eq!(map.iter().flatten().sum::<i64>(), 27 * 27);
}

#[test]
fn map_text_is_the_coverage_grid() {
    let o = run(&["map", "--kernel", "3", "--rates", "1,2,5"]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(
        header.contains("17×17") && header.contains("-8..=8"),
        "{header}"
    );
    let grid: Vec<Vec<i64>> = lines
        .map(|l| l.split_whitespace().map(|c| c.parse().unwrap()).collect())
        .collect();
    assert_eq!(grid, map_json(&["--kernel", "3", "--rates", "1,2,5"]));
    // Columns are right-aligned to one width.
    let widths: Vec<usize> = text.lines().skip(1).map(str::len).collect();
    assert!(widths.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn map_png_decodes_with_the_layout_size_and_colours() {
    let path = temp("map-248.png");
    let o = run(&[
        "map",
        "--kernel",
        "3",
        "--rates",
        "2,4,8",
        "--png",
        path.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let map: Vec<Vec<u64>> = map_json(&["--kernel", "3", "--rates", "2,4,8"])
        .into_iter()
        .map(|r| r.into_iter().map(|c| u64::try_from(c).unwrap()).collect())
        .collect();
    let layout = heatmap::layout(
        &map,
        &heatmap::Options {
            origin: (-14, -14),
            ..Default::default()
        },
    );

    let file = std::io::BufReader::new(std::fs::File::open(&path).unwrap());
    let mut reader = png::Decoder::new(file).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (layout.width, layout.height));
    assert!(stderr(&o).contains(&format!("{}×{}", info.width, info.height)));
    let pixel = |x: u32, y: u32| {
        let i = ((y * info.width + x) * 3) as usize;
        [buf[i], buf[i + 1], buf[i + 2]]
    };
    // Sample each cell one pixel inside its corner (clear of grid lines and labels).
    let sample = |r: usize, c: usize| {
        let (x, y) = layout.cell_origin(r, c);
        pixel(x + 2, y + 2)
    };
    let max = 9.0f64;
    for (r, row) in map.iter().enumerate() {
        for (c, &count) in row.iter().enumerate() {
            #[allow(clippy::cast_precision_loss)]
            let want = heatmap::colour(heatmap::shade((count as f64).log2(), max.log2()));
            assert_eq!(sample(r, c), want, "cell ({r}, {c}) count {count}");
        }
    }
    assert_eq!(sample(1, 1), [255, 255, 255]); // a hole is white
    assert_eq!(sample(12, 12), [255, 0, 0]); // the largest count, 9, is red
}

/// The colours an SVG heat map paints its `n × n` cells with, read back from its XML: the
/// grid is the first unfilled, stroked `<rect>`; cells are filled `<rect>`s inside it (runs
/// of one colour may span several cells); white is the background.
fn svg_cells(svg: &str, n: usize) -> Vec<Vec<String>> {
    let doc = roxmltree::Document::parse(svg).expect("the SVG is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert!(root.attribute("width").is_some() && root.attribute("viewBox").is_some());
    let num = |node: roxmltree::Node<'_, '_>, a: &str| -> u32 {
        node.attribute(a)
            .unwrap_or("0")
            .parse()
            .unwrap_or_else(|_| panic!("{a} of {node:?}"))
    };
    let rects: Vec<_> = doc
        .descendants()
        .filter(|d| d.has_tag_name("rect"))
        .collect();
    let frame = rects
        .iter()
        .find(|r| r.attribute("fill") == Some("none"))
        .expect("a grid frame");
    let (gx, gy, gw) = (num(*frame, "x"), num(*frame, "y"), num(*frame, "width"));
    let cell = gw / u32::try_from(n).unwrap();
    let mut cells = vec![vec!["#ffffff".to_owned(); n]; n];
    for r in rects
        .iter()
        .filter(|r| r.attribute("fill").is_some_and(|f| f.starts_with('#')))
    {
        let (x, y, w, h) = (
            num(*r, "x"),
            num(*r, "y"),
            num(*r, "width"),
            num(*r, "height"),
        );
        if x < gx || y < gy || x >= gx + gw || y >= gy + gw {
            continue; // the background, the colour bar
        }
        assert_eq!(h, cell, "a cell rect is one cell high");
        assert_eq!((x - gx) % cell, 0);
        let row = ((y - gy) / cell) as usize;
        let col = ((x - gx) / cell) as usize;
        for slot in &mut cells[row][col..col + (w / cell) as usize] {
            r.attribute("fill").unwrap().clone_into(slot);
        }
    }
    cells
}

fn hex(c: [u8; 3]) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

#[test]
fn map_svg_has_every_count_and_coloured_cells() {
    for (rates, side) in [("1,2,5", 17), ("2,4,8", 29), ("1,2,9", 25)] {
        let path = temp(&format!("map-{rates}.svg"));
        let o = run(&[
            "map",
            "--kernel",
            "3",
            "--rates",
            rates,
            "--svg",
            path.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.contains(&format!("rates [{}]", rates.replace(',', ", "))));
        let map = map_json(&["--kernel", "3", "--rates", rates]);
        assert_eq!(map.len(), side);
        let max = map.iter().flatten().copied().max().unwrap();

        // Cell colours, read back from the XML.
        let cells = svg_cells(&svg, side);
        for (r, row) in map.iter().enumerate() {
            for (c, &count) in row.iter().enumerate() {
                #[allow(clippy::cast_precision_loss)]
                let want =
                    heatmap::colour(heatmap::shade((count as f64).log2(), (max as f64).log2()));
                assert_eq!(
                    cells[r][c],
                    hex(want),
                    "{rates}: cell ({r}, {c}) count {count}"
                );
            }
        }

        // Every count written in its cell, row-major, in the label group.
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let group = doc
            .descendants()
            .find(|g| g.has_tag_name("g") && g.attribute("text-anchor") == Some("middle"))
            .expect("a label group");
        let labels: Vec<i64> = group
            .children()
            .filter(|t| t.has_tag_name("text"))
            .map(|t| t.text().unwrap().parse().unwrap())
            .collect();
        assert_eq!(labels, map.concat(), "{rates}");
    }
}

#[test]
fn large_map_pictures_stay_small() {
    let png_path = temp("map-big.png");
    let svg_path = temp("map-big.svg");
    let o = run(&[
        "map",
        "--rates",
        "2,4,8,16,32,64,128,256",
        "--png",
        png_path.to_str().unwrap(),
        "--svg",
        svg_path.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["map"].as_array().map(Vec::len), Some(1021));
    let svg_len = std::fs::metadata(&svg_path).unwrap().len();
    assert!(svg_len < 4_000_000, "{svg_len}");
    let file = std::io::BufReader::new(std::fs::File::open(&png_path).unwrap());
    let reader = png::Decoder::new(file).read_info().unwrap();
    assert!(reader.info().width > 2042);

    // The SVG embeds one pixel per cell as an indexed PNG: valid XML, a PNG that decodes to
    // 1,021 × 1,021, white (index 0) exactly where the count is 0.
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("well-formed XML");
    let image = doc
        .descendants()
        .find(|n| n.has_tag_name("image"))
        .expect("an embedded image");
    let href = image
        .attributes()
        .find(|a| a.name() == "href")
        .map(|a| a.value())
        .expect("an href");
    let data = href
        .strip_prefix("data:image/png;base64,")
        .expect("a PNG data URL");
    let bytes = base64_decode(data);
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1021, 1021));
    assert_eq!(info.color_type, png::ColorType::Indexed);
    // k = 3 with even rates: every odd offset is a hole, so every odd row and column.
    let map = v["map"].as_array().unwrap();
    assert_eq!(map[1].as_array().unwrap()[0], 0);
    for (r, row) in map.iter().enumerate().step_by(37) {
        for (c, count) in row.as_array().unwrap().iter().enumerate().step_by(41) {
            let index = buf[r * 1021 + c];
            assert_eq!(index == 0, count.as_u64() == Some(0), "cell ({r}, {c})");
        }
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |b: u8| match b {
        b'A'..=b'Z' => u32::from(b - b'A'),
        b'a'..=b'z' => u32::from(b - b'a') + 26,
        b'0'..=b'9' => u32::from(b - b'0') + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {b}"),
    };
    let mut out = Vec::new();
    for chunk in text.as_bytes().chunks(4) {
        let pad = chunk.iter().filter(|&&b| b == b'=').count();
        let n = chunk
            .iter()
            .take(4 - pad)
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (value(b) << (18 - 6 * i)));
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..4 - pad]);
    }
    out
}

// ---- suggest -----------------------------------------------------------------------------

#[test]
fn suggestions_check_clean() {
    let (v, code) = json(&[
        "suggest", "--kernel", "3", "--layers", "6", "--min-rf", "64", "--json",
    ]);
    assert_eq!(code, 0);
    let list = v["suggestions"].as_array().unwrap();
    assert!(!list.is_empty());
    let mut last_max = 0;
    for s in list {
        let rates = ints(&s["rates"]);
        assert_eq!(rates.len(), 6);
        assert!(s["receptive_field"].as_i64().unwrap() >= 64);
        let max_rate = s["max_rate"].as_i64().unwrap();
        assert!(
            max_rate >= last_max,
            "best first: the smallest largest rate"
        );
        last_max = max_rate;
        let text: Vec<String> = rates.iter().map(ToString::to_string).collect();
        let (c, code) = json(&[
            "check",
            "--kernel",
            "3",
            "--rates",
            &text.join(","),
            "--json",
        ]);
        assert_eq!(code, 0);
        assert_eq!(c["hole_count"], 0);
        assert_eq!(
            (&c["hdc"]["rule1"], &c["hdc"]["rule2"], &c["hdc"]["rule3"]),
            (&Value::Bool(true), &Value::Bool(true), &Value::Bool(true))
        );
        assert_eq!(c["receptive_field"], s["receptive_field"]);
    }
    let text = stdout(&run(&[
        "suggest", "--kernel", "3", "--layers", "6", "--min-rf", "64",
    ]));
    assert!(
        text.lines().count() > 1 && text.contains("rates ["),
        "{text}"
    );
}

#[test]
fn counts_too_costly_for_big_integers_are_null_not_slow() {
    // 3,000 layers of rate 1: a receptive field of 6,001 (under the count limit), but counts
    // of about 4,750 bits on every offset: over the big-integer budget, so `coverage` is
    // null with a note, and the verdict is still given.
    let rates = vec!["1"; 3000].join(",");
    let (v, code) = json(&["check", "--rates", &rates, "--json"]);
    assert_eq!(code, 0);
    assert_eq!(v["receptive_field"], 6001);
    assert_eq!(v["coverage"], Value::Null);
    assert!(
        v["coverage_note"]
            .as_str()
            .is_some_and(|s| s.contains("limb additions"))
    );
    assert_eq!(v["hole_count"], 0);
    assert_eq!(v["holes"].as_array().map(Vec::len), Some(0));
}

#[test]
fn json_renders_the_engine_faithfully() {
    use dilated_core::schedule::{Options, Schedule, analyze, coverage_counts};
    // Random small stacks (kernels 1–5, rates 1–9, strides 1–2), fixed seed.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    for _ in 0..40 {
        let n = usize::try_from(next(5) + 1).unwrap();
        let kernels: Vec<u64> = (0..n).map(|_| next(5) + 1).collect();
        let rates: Vec<u64> = (0..n).map(|_| next(9) + 1).collect();
        let strides: Vec<u64> = (0..n).map(|_| if next(4) == 0 { 2 } else { 1 }).collect();
        let text = |v: &[u64]| {
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        let args = [
            "check",
            "--kernels",
            &text(&kernels),
            "--rates",
            &text(&rates),
            "--strides",
            &text(&strides),
            "--json",
        ];
        let (v, code) = json(&args);

        let schedule = Schedule::from_lists(&kernels, &rates, Some(&strides)).unwrap();
        let report = analyze(&schedule, &Options::default()).unwrap();
        let axis = &report.axes[0];
        let ctx = format!("{args:?}");
        assert_eq!(code, i32::from(report.is_error()), "{ctx}");
        assert_eq!(
            v["receptive_field"].as_u64(),
            Some(axis.receptive_field),
            "{ctx}"
        );
        assert_eq!(
            v["hole_count"].as_u64(),
            Some(axis.reach.hole_count),
            "{ctx}"
        );
        let holes = axis.holes.clone().unwrap();
        assert_eq!(ints(&v["holes"]), holes, "{ctx}");
        let counts = coverage_counts::<u64>(&axis.layers).unwrap();
        let want: Vec<i64> = counts
            .counts
            .iter()
            .map(|&c| i64::try_from(c).unwrap())
            .collect();
        assert_eq!(ints(&v["coverage"]), want, "{ctx}");
        assert_eq!(v["min_offset"].as_i64(), Some(counts.min_offset), "{ctx}");
        let m: Vec<i64> = axis
            .hdc
            .m
            .iter()
            .map(|&m| i64::try_from(m).unwrap())
            .collect();
        assert_eq!(ints(&v["hdc"]["m"]), m, "{ctx}");
        assert_eq!(v["hdc"]["gcd"].as_u64(), Some(axis.hdc.gcd), "{ctx}");
        for (key, rule) in [
            ("rule1", axis.hdc.rule1),
            ("rule2", axis.hdc.rule2),
            ("rule3", axis.hdc.rule3),
        ] {
            assert_eq!(v["hdc"][key].as_bool(), rule.as_bool(), "{ctx} {key}");
        }
        let layers = v["layers"].as_array().unwrap();
        for (l, g) in layers.iter().zip(&axis.geometry) {
            assert_eq!(
                l["effective_kernel"].as_u64(),
                Some(g.effective_kernel),
                "{ctx}"
            );
            assert_eq!(
                l["receptive_field"].as_u64(),
                Some(g.receptive_field),
                "{ctx}"
            );
            assert_eq!(
                [l["padding_lo"].as_u64(), l["padding_hi"].as_u64()],
                [Some(g.padding.0), Some(g.padding.1)],
                "{ctx}"
            );
            if g.padding.0 == g.padding.1 {
                assert_eq!(l["padding"].as_u64(), Some(g.padding.0), "{ctx}");
            } else {
                assert_eq!(
                    ints(&l["padding"]),
                    [g.padding.0, g.padding.1].map(|p| i64::try_from(p).unwrap()),
                    "{ctx}"
                );
            }
        }
        let checks: Vec<&str> = report.diagnostics.iter().map(|d| d.check.name()).collect();
        let got: Vec<&str> = v["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["check"].as_str().unwrap())
            .collect();
        assert_eq!(got, checks, "{ctx}");
    }
}

// ---- 2D schedules -------------------------------------------------------------------------

#[test]
fn two_d_schedules_report_both_axes() {
    // Height [1, 2] covers its field; width [2, 4] grids.
    let (v, code) = json(&[
        "check",
        "--rates",
        "1,2",
        "--rates-w",
        "2,4",
        "--input",
        "16x8",
        "--json",
    ]);
    assert_eq!(code, 1);
    assert_eq!(v["gridding"], true);
    let axes = v["axes"].as_array().unwrap();
    assert_eq!(axes.len(), 2);
    assert_eq!(
        (axes[0]["axis"].as_str(), axes[1]["axis"].as_str()),
        (Some("height"), Some("width"))
    );
    assert_eq!(
        (
            axes[0]["receptive_field"].as_u64(),
            axes[0]["hole_count"].as_u64()
        ),
        (Some(7), Some(0))
    );
    assert_eq!(axes[1]["receptive_field"], 13);
    assert_eq!(ints(&axes[1]["holes"]), [-5, -3, -1, 1, 3, 5]);
    assert_eq!(axes[1]["hdc"]["gcd"], 2);
    assert_eq!(
        (
            axes[0]["schedule"]["input"].as_u64(),
            axes[1]["schedule"]["input"].as_u64()
        ),
        (Some(16), Some(8))
    );
    // The top-level fields are the height axis's.
    assert_eq!(v["receptive_field"], 7);
    let text = stdout(&run(&["check", "--rates", "1,2", "--rates-w", "2,4"]));
    assert!(
        text.contains("height axis")
            && text.contains("width axis")
            && text.contains("on the width axis"),
        "{text}"
    );
    // A 1D schedule has no `axes`.
    let (v, _) = json(&["check", "--rates", "1,2", "--json"]);
    assert!(v.get("axes").is_none());
    assert_eq!(v["axis"], "length");
}

#[test]
fn two_d_map_is_the_outer_product_of_its_axes() {
    let (h, _) = json(&["check", "--kernel", "3", "--rates", "1,2", "--json"]);
    let (w, _) = json(&["check", "--kernel", "2", "--rates", "1,2", "--json"]);
    let (h, w) = (ints(&h["coverage"]), ints(&w["coverage"]));
    let (v, code) = json(&[
        "map",
        "--kernel",
        "3",
        "--rates",
        "1,2",
        "--kernel-w",
        "2",
        "--json",
    ]);
    assert_eq!(code, 0);
    assert_eq!((v["rows"].as_u64(), v["cols"].as_u64()), (Some(7), Some(4)));
    assert_eq!(
        (v["row_min_offset"].as_i64(), v["col_min_offset"].as_i64()),
        (Some(-3), Some(0))
    );
    let map: Vec<Vec<i64>> = v["map"].as_array().unwrap().iter().map(ints).collect();
    for (y, row) in map.iter().enumerate() {
        for (x, &c) in row.iter().enumerate() {
            assert_eq!(c, h[y] * w[x]);
        }
    }
    let path = temp("map-2d.png");
    let o = run(&[
        "map",
        "--rates",
        "1,2",
        "--rates-w",
        "1,3",
        "--png",
        path.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with(
        "coverage map, height: kernel 3, rates [1, 2]; width: kernel 3, rates [1, 3]: 7×9"
    ));
}

#[test]
fn two_d_bad_input() {
    bad(
        &["check", "--rates", "1,2", "--rates-w", "2,4,8"],
        "width rates (--rates-w) has 3 entries, expected 2",
    );
    bad(
        &["check", "--rates", "1,2", "--kernel-w", "0"],
        "kernel size must be at least 1",
    );
    bad(
        &["check", "--rates", "1,2", "--input", "8x8"],
        "input sizes has 2 entries, expected 1",
    );
    bad(&["check", "--rates", "1,2", "--input", "8x8x8"], "HxW");
    bad(
        &["map", "--rates", "1", "--rates-w", "600"],
        "width: a 1201-wide map is over the limit of 1024",
    );
}
