//! Timing a network's kernel choices on its own input size: the planner behind
//! [`Network::tuned`](super::Network::tuned), FFTW's `MEASURE` in small.
//!
//! By default a network runs what the rules measured per kernel family and CPU pick (the
//! bounds in [`super::exec`]'s layout module, [`Tiles::for_layer`]): deterministic, free,
//! and right on the CPUs they were measured on (an AMD Zen 3 and Zen 4, an Intel Xeon). On
//! another CPU a bound may fall elsewhere. Tuning builds the network once per distinct
//! [`Choice`] (two choices that run the same kernels on every layer for this input size are
//! one candidate), runs every candidate on the network's threads in interleaved rounds,
//! and keeps the fastest — the current choice unless another beats it by
//! [`MARGIN`]. What it picks is remembered for the process, per kernel family, thread
//! count, layer descriptions, batch and input size, so a second network of the same shapes
//! tunes in no time; [`Network::with_choice`](super::Network::with_choice) forces a choice
//! recorded elsewhere.
//!
//! Every choice computes the same convolution, within rounding: the tile shapes sum each
//! output in the same order (bit for bit the same results); the NCHW and channel-blocked
//! kernels, and Winograd ([`Network::with_winograd`](super::Network::with_winograd)), may
//! sum in another order. `tests/engine_tune.rs` holds every choice to the reference.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

use super::tiles::Tiles;
use crate::Error;

/// Which dense layers run on the NCHW kernels (16 pixels of one channel per vector) rather
/// than the channel-blocked ones (16 channels of one pixel per vector), where the layout
/// allows either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NchwDense {
    /// The kernel family's rule: on AVX-512, every dense layer the layout allows; on AVX2,
    /// layers of at most 16 input channels per group and layers at stride 2 across; on the
    /// portable family, none.
    Family,
    /// Every dense layer the layout allows.
    Everywhere,
    /// No dense layer.
    Never,
}

impl NchwDense {
    /// Every rule, the family's first.
    pub const ALL: [NchwDense; 3] = [NchwDense::Family, NchwDense::Everywhere, NchwDense::Never];
}

/// The kernel choices of a [`Network`](super::Network) that change its speed and never its
/// results beyond rounding: what [`Network::tuned`](super::Network::tuned) picks among,
/// and what [`Network::with_choice`](super::Network::with_choice) forces.
///
/// ```
/// use dilated_core::engine::{Choice, NchwDense, Tiles};
/// let c = Choice { winograd: false, nchw: NchwDense::Never, convert_from: 32, tiles: Some(Tiles::ONE_PORT) };
/// assert_eq!(c.to_string(), "winograd=off nchw=never convert-from=32 tiles=16x1");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Choice {
    /// Winograd on the layers that allow it ([`Network::with_winograd`](super::Network::with_winograd)).
    pub winograd: bool,
    /// Which dense layers run on the NCHW kernels.
    pub nchw: NchwDense,
    /// Input channels per group from which a dense layer on the channel-blocked kernels
    /// converts an NCHW input to the channel-blocked layout before it runs, rather than
    /// reading the channel planes through strides (`usize::MAX`: never).
    pub convert_from: usize,
    /// The AVX-512 NCHW dense and Winograd tile shape forced on every layer, `None` for
    /// each layer's own ([`Network::with_tiles`](super::Network::with_tiles)).
    pub tiles: Option<Tiles>,
}

impl fmt::Display for Choice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nchw = match self.nchw {
            NchwDense::Family => "family",
            NchwDense::Everywhere => "everywhere",
            NchwDense::Never => "never",
        };
        write!(
            f,
            "winograd={} nchw={nchw} convert-from=",
            if self.winograd { "on" } else { "off" }
        )?;
        if self.convert_from == usize::MAX {
            f.write_str("never")?;
        } else {
            write!(f, "{}", self.convert_from)?;
        }
        match self.tiles {
            Some(t) => write!(f, " tiles={t}"),
            None => f.write_str(" tiles=auto"),
        }
    }
}

/// A choice [`Choice::from_str`] cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown kernel choice {0:?}: expected `winograd=on|off nchw=family|everywhere|never \
     convert-from=<channels>|never tiles=auto|16x1|8x1|8x2|8x3`, each key once"
)]
pub struct UnknownChoice(pub String);

impl FromStr for Choice {
    type Err = UnknownChoice;
    /// The form [`Choice`] prints (`winograd=on nchw=family convert-from=128 tiles=auto`):
    /// the four keys once each, in any order, separated by spaces; so a choice printed by
    /// one process (a tuning's, say) is read back by another.
    ///
    /// ```
    /// use dilated_core::engine::{Choice, NchwDense};
    /// let c: Choice = "tiles=8x3 winograd=off nchw=never convert-from=never".parse()?;
    /// assert_eq!((c.winograd, c.nchw, c.convert_from), (false, NchwDense::Never, usize::MAX));
    /// assert_eq!(c.to_string().parse::<Choice>()?, c);
    /// assert!("winograd=on".parse::<Choice>().is_err());
    /// # Ok::<(), dilated_core::engine::UnknownChoice>(())
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || UnknownChoice(s.to_owned());
        let (mut winograd, mut nchw, mut convert_from, mut tiles) = (None, None, None, None);
        for part in s.split_whitespace() {
            let (key, value) = part.split_once('=').ok_or_else(bad)?;
            let fresh = match key {
                "winograd" => winograd
                    .replace(match value {
                        "on" => true,
                        "off" => false,
                        _ => return Err(bad()),
                    })
                    .is_none(),
                "nchw" => nchw
                    .replace(match value {
                        "family" => NchwDense::Family,
                        "everywhere" => NchwDense::Everywhere,
                        "never" => NchwDense::Never,
                        _ => return Err(bad()),
                    })
                    .is_none(),
                "convert-from" => convert_from
                    .replace(match value {
                        "never" => usize::MAX,
                        n => n.parse::<usize>().map_err(|_| bad())?,
                    })
                    .is_none(),
                "tiles" => tiles
                    .replace(match value {
                        "auto" => None,
                        t => Some(t.parse::<Tiles>().map_err(|_| bad())?),
                    })
                    .is_none(),
                _ => return Err(bad()),
            };
            if !fresh {
                return Err(bad());
            }
        }
        match (winograd, nchw, convert_from, tiles) {
            (Some(winograd), Some(nchw), Some(convert_from), Some(tiles)) => Ok(Choice {
                winograd,
                nchw,
                convert_from,
                tiles,
            }),
            _ => Err(bad()),
        }
    }
}

/// What [`Network::tuned`](super::Network::tuned) measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Tuning {
    /// The choice the network now runs.
    pub choice: Choice,
    /// Every candidate timed, in the order tried (the network's choice before tuning
    /// first), with its fastest run in seconds; empty when the choice came from the
    /// process's memory of an earlier tuning, or when there was nothing to choose (the
    /// reference kernel).
    pub timings: Vec<(Choice, f64)>,
}

/// How much faster than the network's current choice another must run to replace it
/// (a fraction of the current one's time): below it, the difference is the machine's noise
/// more often than the kernels'.
pub(crate) const MARGIN: f64 = 0.05;

/// Seconds of timed runs a tuning aims at, over all candidates and rounds.
const BUDGET_SECS: f64 = 0.5;

/// Fewest and most timed rounds (every candidate once per round): short runs get more,
/// their fastest run being the likelier to meet a quiet moment.
const ROUNDS: (usize, usize) = (3, 64);

/// The candidates for a network whose current choice is `current`: the current one first,
/// then every combination of Winograd on and off, the three [`NchwDense`] rules, the
/// current conversion bound and `convert_from`, and the current tile shape, `tile_shapes`
/// (where the family has tile variants) and each layer's own; each choice once.
pub(crate) fn candidates(
    current: Choice,
    convert_from: &[usize],
    tile_shapes: &[Tiles],
) -> Vec<Choice> {
    let converts: Vec<usize> = [current.convert_from]
        .into_iter()
        .chain(convert_from.iter().copied())
        .collect();
    let tiles: Vec<Option<Tiles>> = [current.tiles]
        .into_iter()
        .chain(tile_shapes.iter().copied().map(Some))
        .chain([None])
        .collect();
    let mut out = vec![current];
    for winograd in [current.winograd, !current.winograd] {
        for nchw in NchwDense::ALL {
            for &convert_from in &converts {
                for &tiles in &tiles {
                    let c = Choice {
                        winograd,
                        nchw,
                        convert_from,
                        tiles,
                    };
                    if !out.contains(&c) {
                        out.push(c);
                    }
                }
            }
        }
    }
    out
}

/// Times `n` candidates with `run` (which runs candidate `i` once and returns its seconds):
/// one warm-up run each, then rounds in a rotating order, enough for about
/// [`BUDGET_SECS`] within [`ROUNDS`]. Returns the index picked — candidate 0 unless another
/// one's fastest run beats candidate 0's by [`MARGIN`] — and each one's fastest run.
pub(crate) fn fastest(
    n: usize,
    mut run: impl FnMut(usize) -> Result<f64, Error>,
) -> Result<(usize, Vec<f64>), Error> {
    let mut best = vec![f64::INFINITY; n];
    if n == 0 {
        return Ok((0, best));
    }
    let mut warm = 0.0;
    for (i, b) in best.iter_mut().enumerate() {
        let t = run(i)?;
        warm += t;
        *b = t;
    }
    let rounds = if warm > 0.0 {
        ((BUDGET_SECS / warm).ceil() as usize).clamp(ROUNDS.0, ROUNDS.1)
    } else {
        ROUNDS.1
    };
    for r in 0..rounds {
        for k in 0..n {
            let i = (k + r) % n;
            let t = run(i)?;
            if t < best[i] {
                best[i] = t;
            }
        }
    }
    let mut pick = 0;
    for i in 1..n {
        if best[i] < best[pick] {
            pick = i;
        }
    }
    if best[pick] * (1.0 + MARGIN) >= best[0] {
        pick = 0;
    }
    Ok((pick, best))
}

/// The process's memory of what tuning picked, by a key of the network and its input
/// (kernel family, threads, layers, batch, input size).
fn memory() -> &'static Mutex<HashMap<String, Choice>> {
    static MEMORY: OnceLock<Mutex<HashMap<String, Choice>>> = OnceLock::new();
    MEMORY.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The choice tuning picked for `key` earlier in this process, if any.
pub(crate) fn recalled(key: &str) -> Option<Choice> {
    // A poisoned lock still holds whole entries (an insert either happened or not).
    let m = memory()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    m.get(key).copied()
}

/// Remembers `choice` for `key`.
pub(crate) fn remember(key: String, choice: Choice) {
    let mut m = memory()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    m.insert(key, choice);
}

/// Floats of slack a buffer needs for a 64-byte-aligned start ([`align_offset`]).
pub(crate) const ALIGN_FLOATS: usize = 16;

/// The index of the first float of `v` on a 64-byte boundary (below [`ALIGN_FLOATS`]).
pub(crate) fn align_offset(v: &[f32]) -> usize {
    let addr = v.as_ptr() as usize;
    (64 - addr % 64) % 64 / size_of::<f32>()
}

/// `n` inputs for the timed runs: [`values`] from a fixed state (the kernels' speed does
/// not depend on the values while they are finite).
pub(crate) fn inputs(n: usize) -> Vec<f32> {
    values(n, 0x9E37_79B9_7F4A_7C15)
}

/// `n` values in [−1, 1) from a xorshift generator started at `state` (odd: an even
/// state works too, zero gives zeros); the engine's tests draw their data from it as well.
pub(crate) fn values(n: usize, mut state: u64) -> Vec<f32> {
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Choice {
        Choice {
            winograd: true,
            nchw: NchwDense::Family,
            convert_from: 128,
            tiles: None,
        }
    }

    #[test]
    fn candidates_start_with_the_current_choice_and_repeat_none() {
        let c = candidates(
            base(),
            &[32, 128, usize::MAX],
            &[Tiles::ONE_PORT, Tiles::TWO_PORTS],
        );
        assert_eq!(c[0], base());
        // 2 Winograd × 3 NCHW rules × 3 bounds × 3 tile choices.
        assert_eq!(c.len(), 54);
        for (i, a) in c.iter().enumerate() {
            assert!(!c[..i].contains(a), "{a} twice");
        }
        let forced = Choice {
            tiles: Some(Tiles::TWO_PORTS),
            ..base()
        };
        let c = candidates(forced, &[], &[]);
        assert_eq!(c[0], forced);
        // The forced shape and "each layer's own".
        assert_eq!(c.len(), 2 * 3 * 2);
    }

    #[test]
    fn choices_print_and_read_back() {
        let all = candidates(base(), &[0, 32, usize::MAX], &Tiles::ALL);
        for c in &all {
            assert_eq!(c.to_string().parse::<Choice>().as_ref(), Ok(c));
        }
        for bad in [
            "",
            "winograd=on nchw=family convert-from=128",
            "winograd=on nchw=family convert-from=128 tiles=auto tiles=auto",
            "winograd=yes nchw=family convert-from=128 tiles=auto",
            "winograd=on nchw=some convert-from=128 tiles=auto",
            "winograd=on nchw=family convert-from=-1 tiles=auto",
            "winograd=on nchw=family convert-from=128 tiles=4x4",
            "winograd=on nchw=family convert-from=128 tiles=auto speed=max",
            "winograd on",
        ] {
            assert_eq!(
                bad.parse::<Choice>(),
                Err(UnknownChoice(bad.to_owned())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_current_choice_stays_unless_another_is_clearly_faster() {
        // Candidate 2 is 2 % faster: within the margin.
        let times = [1.0, 1.5, 0.98];
        let (pick, best) = fastest(3, |i| Ok(times[i])).unwrap();
        assert_eq!(pick, 0);
        assert_eq!(best, times);
        // 10 % faster: picked.
        let times = [1.0, 0.9, 0.95];
        assert_eq!(fastest(3, |i| Ok(times[i])).unwrap().0, 1);
        // Each candidate's fastest run counts.
        let mut calls = [0usize; 2];
        let (pick, best) = fastest(2, |i| {
            calls[i] += 1;
            Ok(if i == 1 && calls[1] == 3 { 0.5 } else { 1.0 })
        })
        .unwrap();
        assert_eq!((pick, best[1]), (1, 0.5));
        // 2 s of warm-up runs: the fewest rounds.
        assert!(calls.iter().all(|&c| c == 1 + ROUNDS.0), "{calls:?}");
    }

    #[test]
    fn a_failing_run_stops_the_timing() {
        let r = fastest(2, |i| {
            if i == 1 {
                Err(Error::Zero { what: "batch" })
            } else {
                Ok(1.0)
            }
        });
        assert!(r.is_err());
    }

    #[test]
    fn the_memory_recalls_what_it_was_told() {
        let key = "tune-test-key".to_owned();
        assert_eq!(recalled(&key), None);
        remember(key.clone(), base());
        assert_eq!(recalled(&key), Some(base()));
        let v = inputs(1000);
        let o = align_offset(&v);
        assert!(o < ALIGN_FLOATS && (v[o..].as_ptr() as usize).is_multiple_of(64));
        assert!(v.iter().all(|x| (-1.0..1.0).contains(x)));
        assert_eq!(v, inputs(1000));
    }
}
