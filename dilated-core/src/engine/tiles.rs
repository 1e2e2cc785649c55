//! Register-tile shapes per micro-architecture, and the CPU identity that picks them.
//!
//! The AVX-512 dense tiles on NCHW data ([`super::nchw`]) and the Winograd tiles
//! ([`super::wino`]) hold `channels` output channels × `vectors` vectors of 16 output pixels
//! in `channels × vectors` accumulators. Which shape is fastest depends on the core, not on
//! the instruction set:
//!
//! - **One 512-bit FMA port** (AMD Zen 4 executes AVX-512 on its 256-bit units, double
//!   pumped): 16 channels × 1 vector. Each weight is used once, so its broadcast folds
//!   into the FMA's memory operand; 16 chains cover the FMA latency of one port.
//! - **Two 512-bit FMA ports** (Intel Xeon from Skylake-SP on, the Gold and Platinum
//!   parts; Sapphire Rapids and later): two FMAs a cycle, and with 16 × 1 every FMA loads
//!   its own broadcast weight (17 loads per 16 FMAs, more than the two vector loads a cycle
//!   the core has). 8 channels × 3 vectors needs 3 input loads and 8 broadcasts per 24 FMAs.
//!   Measured on an Intel Xeon (family 6, model 167, AVX-512 + AMX, 1 thread, GFLOP/s,
//!   `docs/perf.md`): it wins on direct layers with a kernel of height 1 (1D; the three
//!   vectors' taps share their cache lines): 64 channels, kernel 2, rate 16: 154 vs 142;
//!   128 channels, kernel 2: 168–171 vs 145–148; 64 channels, kernel 3, rate 3: 176–182 vs
//!   171. It loses on 2D layers (S1 direct 139–148 vs 158–176; Winograd S1 157–170 vs
//!   196–201, S2 128–133 vs 142–147), where a tile's rows lie a channel plane apart and the
//!   16 × 1 tile's single row per tap keeps the fewest cache lines in flight.
//!
//! [`Tiles::for_layer`] applies what was measured: 8 × 3 for direct 1D layers on Intel
//! (two ports), 16 × 1 for the rest and on every other CPU. `DILATED_TILE` (`16x1`, `8x1`,
//! `8x2`, `8x3`, or the names `one-port` and `two-ports`) forces one shape for every layer
//! ([`Tiles::forced`]), and so does
//! [`Network::with_tiles`](super::Network::with_tiles). Every shape computes the same sums
//! in the same order per output (input channel by input channel, tap by tap), so the
//! choice never changes a result, not even by rounding. Only the AVX-512 family has
//! variants: AVX2 keeps its 6 × 1 NCHW tile (16 registers), the portable family 8 × 2.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use crate::conv::ConvDesc;

/// The shape of the AVX-512 NCHW dense and Winograd register tiles: output channels ×
/// vectors of 16 pixels (docs/perf.md, "On the Intel Xeon", has what each suits and the
/// measurements).
///
/// ```
/// use dilated_core::engine::Tiles;
/// let t: Tiles = "8x3".parse()?;
/// assert_eq!((t.channels(), t.vectors()), (8, 3));
/// assert_eq!("two-ports".parse::<Tiles>()?, Tiles::TWO_PORTS);
/// assert_eq!(Tiles::ONE_PORT.to_string(), "16x1");
/// # Ok::<(), dilated_core::engine::UnknownTiles>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tiles {
    channels: u8,
    vectors: u8,
}

impl Tiles {
    /// 16 channels × 1 vector: CPUs with one 512-bit FMA port (AMD Zen 4).
    pub const ONE_PORT: Tiles = Tiles {
        channels: 16,
        vectors: 1,
    };
    /// 8 channels × 3 vectors: CPUs with two 512-bit FMA ports (Intel Xeon).
    pub const TWO_PORTS: Tiles = Tiles {
        channels: 8,
        vectors: 3,
    };
    /// Every shape the AVX-512 family compiles.
    pub const ALL: [Tiles; 4] = [
        Tiles::ONE_PORT,
        Tiles {
            channels: 8,
            vectors: 1,
        },
        Tiles {
            channels: 8,
            vectors: 2,
        },
        Tiles::TWO_PORTS,
    ];

    /// The shape `channels × vectors`, if the AVX-512 family compiles it (one of
    /// [`Tiles::ALL`]).
    #[must_use]
    pub fn new(channels: usize, vectors: usize) -> Option<Tiles> {
        Tiles::ALL
            .into_iter()
            .find(|t| t.channels() == channels && t.vectors() == vectors)
    }

    /// Output channels per tile.
    #[must_use]
    pub const fn channels(self) -> usize {
        self.channels as usize
    }

    /// Vectors of 16 output pixels per tile (the widest; the ends of a row take narrower
    /// tiles).
    #[must_use]
    pub const fn vectors(self) -> usize {
        self.vectors as usize
    }

    /// Whether `cpu` has two 512-bit FMA ports, as far as its vendor tells: Intel's AVX-512
    /// server cores (Xeon Gold and Platinum from Skylake-SP on, Sapphire Rapids and later)
    /// have two, AMD's (Zen 4) one, double pumped. Some Intel parts have one (Xeon Bronze
    /// and Silver of Skylake-SP and Cascade Lake, client Ice Lake); the family and model
    /// cannot tell those apart: force a shape there if it measures faster.
    #[must_use]
    pub fn two_fma_ports(cpu: &Cpu) -> bool {
        cpu.vendor == "GenuineIntel"
    }

    /// The shape a layer runs on `cpu` when none is forced: [`Tiles::TWO_PORTS`] for a
    /// direct (not Winograd) layer with a kernel of height 1 on a CPU with two FMA ports
    /// ([`Tiles::two_fma_ports`]), [`Tiles::ONE_PORT`] otherwise (the measurements behind
    /// the rule are in docs/perf.md, "On the Intel Xeon").
    ///
    /// ```
    /// use dilated_core::{ConvDesc, engine::{Cpu, Tiles}};
    /// let zen4 = Cpu { vendor: "AuthenticAMD".into(), family: 25, model: 17, brand: String::new() };
    /// let xeon = Cpu { vendor: "GenuineIntel".into(), family: 6, model: 143, brand: String::new() };
    /// let conv1d = ConvDesc::causal_1d(64, 64, 2, 16);
    /// assert_eq!(Tiles::for_layer(&zen4, &conv1d, false), Tiles::ONE_PORT);
    /// assert_eq!(Tiles::for_layer(&xeon, &conv1d, false), Tiles::TWO_PORTS);
    /// assert_eq!(Tiles::for_layer(&xeon, &ConvDesc::same_2d(64, 64, 3, 2), true), Tiles::ONE_PORT);
    /// ```
    #[must_use]
    pub fn for_layer(cpu: &Cpu, desc: &ConvDesc, winograd: bool) -> Tiles {
        if Tiles::two_fma_ports(cpu) && !winograd && desc.kernel[0] == 1 {
            Tiles::TWO_PORTS
        } else {
            Tiles::ONE_PORT
        }
    }

    /// The shape `DILATED_TILE` forces for every layer, read once per process: `None` when
    /// it is unset or names no shape ([`Tiles::from_str`]). New networks start with it.
    #[must_use]
    pub fn forced() -> Option<Tiles> {
        static FORCED: OnceLock<Option<Tiles>> = OnceLock::new();
        *FORCED.get_or_init(|| {
            std::env::var("DILATED_TILE")
                .ok()
                .and_then(|v| v.parse::<Tiles>().ok())
        })
    }
}

impl fmt::Display for Tiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.channels, self.vectors)
    }
}

/// A tile shape [`Tiles::from_str`] does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown tile shape {0:?}: expected 16x1, 8x1, 8x2, 8x3, one-port or two-ports")]
pub struct UnknownTiles(pub String);

impl FromStr for Tiles {
    type Err = UnknownTiles;
    /// `CxR` (channels × vectors, one of [`Tiles::ALL`]), `one-port` or `two-ports`, case
    /// and surrounding spaces ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let v = s.trim().to_ascii_lowercase();
        let bad = || UnknownTiles(s.to_owned());
        match v.as_str() {
            "one-port" => return Ok(Tiles::ONE_PORT),
            "two-ports" => return Ok(Tiles::TWO_PORTS),
            _ => {}
        }
        let (c, r) = v.split_once('x').ok_or_else(bad)?;
        let c = c.parse::<usize>().map_err(|_| bad())?;
        let r = r.parse::<usize>().map_err(|_| bad())?;
        Tiles::new(c, r).ok_or_else(bad)
    }
}

/// The CPU a process runs on, as `cpuid` reports it (empty fields and zeros off x86-64).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cpu {
    /// The vendor string: `GenuineIntel`, `AuthenticAMD`, …
    pub vendor: String,
    /// The display family (base family, plus the extended family when the base is 15).
    pub family: u32,
    /// The display model (base model, plus the extended model shifted in for families 6
    /// and 15).
    pub model: u32,
    /// The brand string (`Intel(R) Xeon(R) …`, `AMD EPYC …`), trimmed; empty if the CPU
    /// reports none.
    pub brand: String,
}

impl Cpu {
    /// This machine's CPU, read once per process.
    ///
    /// ```
    /// let cpu = dilated_core::engine::Cpu::this();
    /// # #[cfg(target_arch = "x86_64")]
    /// assert!(!cpu.vendor.is_empty());
    /// ```
    #[must_use]
    pub fn this() -> &'static Cpu {
        static CPU: OnceLock<Cpu> = OnceLock::new();
        CPU.get_or_init(detect)
    }
}

impl fmt::Display for Cpu {
    /// The brand string, or the vendor, family and model without one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.brand.is_empty() {
            write!(
                f,
                "{} family {} model {}",
                self.vendor, self.family, self.model
            )
        } else {
            f.write_str(&self.brand)
        }
    }
}

/// Reads vendor, family, model and brand with `cpuid`.
#[cfg(target_arch = "x86_64")]
fn detect() -> Cpu {
    use core::arch::x86_64::__cpuid;
    let bytes = |regs: [u32; 4]| -> Vec<u8> { regs.iter().flat_map(|r| r.to_le_bytes()).collect() };
    // `cpuid` exists on every x86-64 CPU; leaves past the maximum the CPU reports are
    // never asked for.
    let l0 = __cpuid(0);
    let vendor = bytes([l0.ebx, l0.edx, l0.ecx, 0]);
    let vendor = String::from_utf8_lossy(&vendor[..12]).into_owned();
    let (family, model) = if l0.eax >= 1 {
        let eax = __cpuid(1).eax;
        let base_family = (eax >> 8) & 0xf;
        let base_model = (eax >> 4) & 0xf;
        let family = if base_family == 15 {
            base_family + ((eax >> 20) & 0xff)
        } else {
            base_family
        };
        let model = if base_family == 6 || base_family == 15 {
            base_model | (((eax >> 16) & 0xf) << 4)
        } else {
            base_model
        };
        (family, model)
    } else {
        (0, 0)
    };
    let brand = if __cpuid(0x8000_0000).eax >= 0x8000_0004 {
        let raw: Vec<u8> = (0x8000_0002u32..=0x8000_0004)
            .flat_map(|leaf| {
                let r = __cpuid(leaf);
                bytes([r.eax, r.ebx, r.ecx, r.edx])
            })
            .collect();
        let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        String::from_utf8_lossy(&raw[..end]).trim().to_owned()
    } else {
        String::new()
    };
    Cpu {
        vendor,
        family,
        model,
        brand,
    }
}

/// No `cpuid` off x86-64.
#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Cpu {
    Cpu::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_parse_and_print_back() {
        for t in Tiles::ALL {
            assert_eq!(t.to_string().parse::<Tiles>(), Ok(t));
            assert!(16 % t.channels() == 0 && t.channels() * t.vectors() <= 24);
        }
        assert_eq!(" Two-Ports ".parse::<Tiles>(), Ok(Tiles::TWO_PORTS));
        assert_eq!("one-port".parse::<Tiles>(), Ok(Tiles::ONE_PORT));
        for bad in ["", "16", "16x2", "x1", "8x", "4x4", "wide"] {
            assert!(bad.parse::<Tiles>().is_err(), "{bad:?}");
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn cpuid_reads_a_vendor() {
        let cpu = Cpu::this();
        assert_eq!(cpu.vendor.len(), 12, "{cpu:?}");
        assert!(cpu.family > 0, "{cpu:?}");
    }
}
