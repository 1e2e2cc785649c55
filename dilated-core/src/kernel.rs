//! Which kernel family runs: detected once per process, overridable by the environment
//! (`DILATED_KERNEL=avx512|avx2|portable|reference`) and per network
//! ([`Network::with_kernel`](crate::engine::Network::with_kernel)).
//!
//! The family is a name and a CPU check, nothing more: the engine, the streaming layers
//! and the crate's [`Error`](crate::Error) all use it, so it sits below them and imports
//! nothing from the crate. Re-exported as `engine::Kernel`.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

/// A kernel family. Every family computes the same convolution; they differ in speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kernel {
    /// The naive reference ([`conv_reference`](crate::conv::conv_reference)) on NCHW data,
    /// layer by layer. The oracle; slow.
    Reference,
    /// The channel-blocked engine with portable 16-lane code (always compiled).
    Portable,
    /// The channel-blocked engine with AVX2 + FMA kernels (x86-64).
    Avx2,
    /// The channel-blocked engine with AVX-512F kernels (x86-64).
    Avx512,
}

impl Kernel {
    /// Every family, slowest first.
    pub const ALL: [Kernel; 4] = [
        Kernel::Reference,
        Kernel::Portable,
        Kernel::Avx2,
        Kernel::Avx512,
    ];

    /// Whether this CPU can run the family.
    #[must_use]
    pub fn is_available(self) -> bool {
        match self {
            Kernel::Reference | Kernel::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(not(target_arch = "x86_64"))]
            Kernel::Avx2 | Kernel::Avx512 => false,
        }
    }

    /// The fastest family this CPU runs: AVX-512F, then AVX2 + FMA, then portable.
    #[must_use]
    pub fn detect() -> Self {
        [Kernel::Avx512, Kernel::Avx2]
            .into_iter()
            .find(|k| k.is_available())
            .unwrap_or(Kernel::Portable)
    }

    /// The process-wide default, decided once: `DILATED_KERNEL` when it names an available
    /// family, otherwise [`Kernel::detect`]. New networks start with it.
    #[must_use]
    pub fn selected() -> Self {
        static SELECTED: OnceLock<Kernel> = OnceLock::new();
        *SELECTED.get_or_init(|| {
            std::env::var("DILATED_KERNEL")
                .ok()
                .and_then(|v| v.parse::<Kernel>().ok())
                .filter(|k| k.is_available())
                .unwrap_or_else(Kernel::detect)
        })
    }

    /// The name `DILATED_KERNEL` accepts.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Kernel::Reference => "reference",
            Kernel::Portable => "portable",
            Kernel::Avx2 => "avx2",
            Kernel::Avx512 => "avx512",
        }
    }
}

impl fmt::Display for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown kernel name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown kernel {0:?}: expected avx512, avx2, portable or reference")]
pub struct UnknownKernel(pub String);

impl FromStr for Kernel {
    type Err = UnknownKernel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kernel::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownKernel(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in Kernel::ALL {
            assert_eq!(k.name().parse::<Kernel>().unwrap(), k);
        }
        assert!("sse".parse::<Kernel>().is_err());
        assert!(Kernel::detect().is_available());
        assert!(Kernel::selected().is_available());
    }
}
