//! What a typed layer holds: its engine layer, checked against the layer's type, and the
//! one-layer network that runs it on its own, built on first use.

use std::sync::OnceLock;

use crate::Error;
use crate::conv::{Conv, ConvDesc, Rank, check_rank};
use crate::engine::{Kernel, Network};

/// Compares a descriptor with the one a layer type calls for, ignoring bias and activation.
fn check_desc(expected: &ConvDesc, actual: &ConvDesc) -> Result<(), Error> {
    let pairs: [(&'static str, usize, usize); 13] = [
        (
            "layer input channels",
            expected.in_channels,
            actual.in_channels,
        ),
        (
            "layer output channels",
            expected.out_channels,
            actual.out_channels,
        ),
        ("layer groups", expected.groups, actual.groups),
        ("layer kernel height", expected.kernel[0], actual.kernel[0]),
        ("layer kernel width", expected.kernel[1], actual.kernel[1]),
        (
            "layer dilation (height)",
            expected.dilation[0],
            actual.dilation[0],
        ),
        (
            "layer dilation (width)",
            expected.dilation[1],
            actual.dilation[1],
        ),
        (
            "layer stride (height)",
            expected.stride[0],
            actual.stride[0],
        ),
        ("layer stride (width)", expected.stride[1], actual.stride[1]),
        (
            "layer padding (top)",
            expected.padding[0][0],
            actual.padding[0][0],
        ),
        (
            "layer padding (bottom)",
            expected.padding[0][1],
            actual.padding[0][1],
        ),
        (
            "layer padding (left)",
            expected.padding[1][0],
            actual.padding[1][0],
        ),
        (
            "layer padding (right)",
            expected.padding[1][1],
            actual.padding[1][1],
        ),
    ];
    for (what, e, a) in pairs {
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
