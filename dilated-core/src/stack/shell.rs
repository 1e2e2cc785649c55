//! What a typed layer holds: its engine layer, checked against the layer's type, and the
//! one-layer network that runs it on its own, built on first use.

use std::sync::OnceLock;

use crate::Error;
use crate::conv::{Conv, ConvDesc, Rank, check_rank};
use crate::engine::{Kernel, Network};

/// Compares a descriptor with the one a layer type calls for, ignoring bias and activation.
fn check_desc(expected: &ConvDesc, actual: &ConvDesc) -> Result<(), Error> {
    const NAMES: [&str; 13] = [
        "layer input channels",
        "layer output channels",
        "layer groups",
        "layer kernel height",
        "layer kernel width",
        "layer dilation (height)",
        "layer dilation (width)",
        "layer stride (height)",
        "layer stride (width)",
        "layer padding (top)",
        "layer padding (bottom)",
        "layer padding (left)",
        "layer padding (right)",
    ];
    let checked = |d: &ConvDesc| {
        [
            d.in_channels,
            d.out_channels,
            d.groups,
            d.kernel[0],
            d.kernel[1],
            d.dilation[0],
            d.dilation[1],
            d.stride[0],
            d.stride[1],
            d.padding[0][0],
            d.padding[0][1],
            d.padding[1][0],
            d.padding[1][1],
        ]
    };
    for ((what, e), a) in NAMES
        .into_iter()
        .zip(checked(expected))
        .zip(checked(actual))
    {
        if e != a {
            return Err(Error::Shape {
                what,
                expected: e,
                actual: a,
            });
        }
    }
    Ok(())
}

/// What a typed layer holds: its engine layer (whose weights are shared with every clone
/// and with any stack built from it, never copied) and, once the layer has been run on its
/// own or configured to, the one-layer network that runs it (the packed weights).
///
/// A typed layer that only describes a stack's layer (as in a `dilated_stack!` struct)
/// therefore holds no packed weights: only the stack's network does.
#[derive(Debug, Clone)]
pub(super) struct Shell {
    layer: Conv,
    net: OnceLock<Network>,
}

impl Shell {
    /// Checks the layer against its type's descriptor; packs nothing.
    pub(super) fn new(expected: &ConvDesc, rank: Rank, layer: Conv) -> Result<Self, Error> {
        check_desc(expected, layer.desc())?;
        check_rank(layer.desc(), rank)?;
        Ok(Self {
            layer,
            net: OnceLock::new(),
        })
    }

    /// The engine layer.
    pub(super) fn layer(&self) -> &Conv {
        &self.layer
    }

    /// The network, built (weights packed) on first use.
    pub(super) fn network(&self) -> Result<&Network, Error> {
        if let Some(net) = self.net.get() {
            return Ok(net);
        }
        let net = Network::new(vec![self.layer.clone()])?;
        // Another thread may have built it meanwhile: then ours is dropped, theirs is used.
        Ok(self.net.get_or_init(|| net))
    }

    /// Replaces the network by `f` applied to it (built first, for the family `kernel` or
    /// the selected one, if need be: so a new family packs the weights once).
    pub(super) fn configure(
        self,
        kernel: Option<Kernel>,
        f: impl FnOnce(Network) -> Result<Network, Error>,
    ) -> Result<Self, Error> {
        let net = match self.net.into_inner() {
            Some(net) => net,
            None => Network::new_with_kernel(
                vec![self.layer.clone()],
                kernel.unwrap_or_else(Kernel::selected),
            )?,
        };
        Ok(Self {
            layer: self.layer,
            net: OnceLock::from(f(net)?),
        })
    }
}
