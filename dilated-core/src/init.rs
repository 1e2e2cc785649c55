//! Seeded random initialisation, distributed as PyTorch's default for `nn.Conv1d`/`nn.Conv2d`.
//!
//! PyTorch initialises a convolution's weight with `kaiming_uniform_(a = √5)`: gain
//! `√(2 / (1 + a²)) = √(1/3)`, bound `gain · √3 / √fan_in = 1 / √fan_in`, so every weight
//! is drawn from `U(−1/√fan_in, 1/√fan_in)`; the bias is drawn from the same bound.
//! `fan_in = C_in / groups · KH · KW`.
//!
//! The generator is PCG-64 (`rand_pcg::Pcg64`), seeded with `seed_from_u64`, so the same
//! seed gives the same numbers on every platform and every run. They are not PyTorch's
//! numbers (its generator is a different one); only the distribution matches. Draw order:
//! layer by layer, the weight in PyTorch's layout order, then the bias.
//!
//! ```
//! use dilated_core::{ConvDesc, init::{Init, fan_in}};
//! let desc = ConvDesc::same_2d(4, 8, 3, 2);
//! assert_eq!(fan_in(&desc), 36);
//! let layer = Init::new(7).conv(desc)?;
//! let bound = 1.0 / 36f32.sqrt();
//! assert!(layer.weight().iter().all(|w| w.abs() <= bound));
//! // Same seed, same weights.
//! assert_eq!(layer, Init::new(7).conv(desc)?);
//! # Ok::<(), dilated_core::Error>(())
//! ```

use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64;

use crate::Error;
use crate::conv::Conv;
use crate::conv::ConvDesc;

/// `C_in / groups · KH · KW` (saturating; a validated descriptor never saturates).
#[must_use]
pub fn fan_in(desc: &ConvDesc) -> usize {
    (desc.in_channels / desc.groups.max(1))
        .saturating_mul(desc.kernel[0])
        .saturating_mul(desc.kernel[1])
}

/// PyTorch's bound for a convolution's default init, `1 / √fan_in`.
#[must_use]
pub fn kaiming_bound(desc: &ConvDesc) -> f32 {
    // fan_in ≥ 1 for a validated descriptor; `max` keeps a bad one finite.
    #[allow(clippy::cast_precision_loss)] // fan_in far below 2^24 in any real layer.
    let fan = fan_in(desc).max(1) as f64;
    #[allow(clippy::cast_possible_truncation)]
    let bound = (1.0 / fan.sqrt()) as f32;
    bound
}

/// A seeded generator of PyTorch-style convolution weights.
#[derive(Debug, Clone)]
pub struct Init {
    rng: Pcg64,
}

impl Init {
    /// A generator seeded with `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Pcg64::seed_from_u64(seed),
        }
    }

    /// Draws `len` values from `U(−bound, bound)`.
    pub fn uniform(&mut self, len: usize, bound: f32) -> Vec<f32> {
        if bound > 0.0 {
            (0..len)
                .map(|_| self.rng.random_range(-bound..bound))
                .collect()
        } else {
            vec![0.0; len]
        }
    }

    /// A layer for `desc` with freshly drawn weights (and bias, when `desc.bias`).
    pub fn conv(&mut self, desc: ConvDesc) -> Result<Conv, Error> {
        desc.validate()?;
        let bound = kaiming_bound(&desc);
        let weight = self.uniform(desc.weight_len()?, bound);
        let bias = desc.bias.then(|| self.uniform(desc.out_channels, bound));
        Conv::new(desc, weight, bias)
    }
}
