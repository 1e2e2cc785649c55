//! Running an engine network on tensors: the one path from a tensor to the engine and back
//! that the typed layers, the untyped stack and the typed stack share.

use crate::Error;
use crate::engine::{Network, Workspace};
use crate::tensor::{Tensor, TypedTensor};

/// Checks that `net` takes `channels` input channels.
fn check_in_channels(net: &Network, channels: usize) -> Result<(), Error> {
    if channels == net.in_channels() {
        Ok(())
    } else {
        Err(Error::Shape {
            what: "input channels",
            expected: net.in_channels(),
            actual: channels,
        })
    }
}

/// Runs `net` on `x`, allocating the output.
pub(super) fn run(net: &Network, x: &Tensor) -> Result<Tensor, Error> {
    let [n, c, h, w] = x.shape();
    check_in_channels(net, c)?;
    let (y, hw) = net.forward(n, [h, w], x.as_slice())?;
    Tensor::from_vec([n, net.out_channels(), hw[0], hw[1]], y)
}

/// Runs `net` on the typed tensor `x`, allocating the output, checked against `Y`.
pub(super) fn run_typed<X: TypedTensor, Y: TypedTensor>(net: &Network, x: &X) -> Result<Y, Error> {
    Y::from_tensor(run(net, x.tensor())?)
}

/// Runs `net` on the typed tensor `x` into `out` (whose shape must be the output's),
/// reusing `ws`.
pub(super) fn run_typed_into<X: TypedTensor, Y: TypedTensor>(
    net: &Network,
    x: &X,
    out: &mut Y,
    ws: &mut Workspace,
) -> Result<(), Error> {
    const NAMES: [&str; 4] = [
        "output batch",
        "output channels",
        "output height",
        "output width",
    ];
    let x = x.tensor();
    let [n, c, h, w] = x.shape();
    check_in_channels(net, c)?;
    let hw = net.output_size([h, w])?;
    let expected = [n, net.out_channels(), hw[0], hw[1]];
    let actual = out.tensor().shape();
    for ((what, e), a) in NAMES.into_iter().zip(expected).zip(actual) {
        if e != a {
            return Err(Error::Shape {
                what,
                expected: e,
                actual: a,
            });
        }
    }
    net.forward_into(n, [h, w], x.as_slice(), out.data_mut(), ws)?;
    Ok(())
}
