//! The execution engine: a [`Network`] is a stack of convolution [`Layer`]s compiled into a
//! plan and run on flat NCHW `f32` data.
//!
//! This first version runs every layer through [`conv_reference`]; the SIMD kernels
//! replace its inside without changing this API.

use crate::Error;
use crate::conv::{ConvDesc, conv_reference};

/// One convolution with its weights (PyTorch layout `[C_out, C_in/groups, KH, KW]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    desc: ConvDesc,
    weight: Vec<f32>,
    bias: Option<Vec<f32>>,
}

impl Layer {
    /// Checks the descriptor and the weight and bias lengths against it.
    pub fn new(desc: ConvDesc, weight: Vec<f32>, bias: Option<Vec<f32>>) -> Result<Self, Error> {
        desc.validate()?;
        let expected = desc.weight_len()?;
        if weight.len() != expected {
            return Err(Error::Length {
                what: "weight",
                expected,
                actual: weight.len(),
            });
        }
        let expected_bias = if desc.bias { desc.out_channels } else { 0 };
        let actual_bias = bias.as_ref().map_or(0, Vec::len);
        if expected_bias != actual_bias || desc.bias != bias.is_some() {
            return Err(Error::Length {
                what: "bias",
                expected: expected_bias,
                actual: actual_bias,
            });
        }
        Ok(Self { desc, weight, bias })
    }

    /// The layer's descriptor.
    #[must_use]
    pub fn desc(&self) -> &ConvDesc {
        &self.desc
    }

    /// The weights, `[C_out, C_in/groups, KH, KW]`.
    #[must_use]
    pub fn weight(&self) -> &[f32] {
        &self.weight
    }

    /// The bias, if the layer has one.
    #[must_use]
    pub fn bias(&self) -> Option<&[f32]> {
        self.bias.as_deref()
    }
}

/// Reusable scratch memory for [`Network::forward_into`]: after the first call with a given
/// shape, later calls allocate nothing.
#[derive(Debug, Default, Clone)]
pub struct Workspace {
    ping: Vec<f32>,
    pong: Vec<f32>,
}

impl Workspace {
    /// An empty workspace; it grows on first use.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

/// A stack of convolutions, checked to chain (each layer's input channels are the previous
/// layer's output channels).
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    layers: Vec<Layer>,
}

impl Network {
    /// Builds the plan. Fails on an empty stack or on layers that do not chain.
    pub fn new(layers: Vec<Layer>) -> Result<Self, Error> {
        if layers.is_empty() {
            return Err(Error::Zero { what: "layer count" });
        }
        for (i, pair) in layers.windows(2).enumerate() {
            if pair[1].desc.in_channels != pair[0].desc.out_channels {
                return Err(Error::Chain {
                    layer: i + 1,
                    expected: pair[1].desc.in_channels,
                    actual: pair[0].desc.out_channels,
                });
            }
        }
        Ok(Self { layers })
    }

    /// The layers, in order.
    #[must_use]
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// Input channels of the first layer.
    #[must_use]
    pub fn in_channels(&self) -> usize {
        self.layers[0].desc.in_channels
    }

    /// Output channels of the last layer.
    #[must_use]
    pub fn out_channels(&self) -> usize {
        self.layers[self.layers.len() - 1].desc.out_channels
    }

    /// Spatial output size for an input of `input_hw`, checking every layer.
    pub fn output_size(&self, input_hw: [usize; 2]) -> Result<[usize; 2], Error> {
        self.layers
            .iter()
            .try_fold(input_hw, |hw, l| l.desc.output_size(hw))
    }

    /// Runs the stack on `batch × C_in × H × W` data, allocating the output.
    /// Returns the output and its spatial size.
    ///
    /// ```
    /// use dilated_core::{ConvDesc, engine::{Layer, Network}};
    /// let desc = ConvDesc::same_2d(1, 1, 3, 2);
    /// let layer = Layer::new(desc, vec![0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0], Some(vec![0.5]))?;
    /// let net = Network::new(vec![layer])?;
    /// let (y, hw) = net.forward(1, [2, 2], &[1.0, 2.0, 3.0, 4.0])?;
    /// assert_eq!(hw, [2, 2]);
    /// assert_eq!(y, [1.5, 2.5, 3.5, 4.5]);
    /// # Ok::<(), dilated_core::Error>(())
    /// ```
    pub fn forward(
        &self,
        batch: usize,
        input_hw: [usize; 2],
        input: &[f32],
    ) -> Result<(Vec<f32>, [usize; 2]), Error> {
        let out_hw = self.output_size(input_hw)?;
        let mut out = vec![0.0; ConvDesc::nchw_len(batch, self.out_channels(), out_hw)?];
        self.forward_into(batch, input_hw, input, &mut out, &mut Workspace::new())?;
        Ok((out, out_hw))
    }

    /// Runs the stack into `output`, reusing `ws` for the intermediate activations.
    pub fn forward_into(
        &self,
        batch: usize,
        input_hw: [usize; 2],
        input: &[f32],
        output: &mut [f32],
        ws: &mut Workspace,
    ) -> Result<[usize; 2], Error> {
        if batch == 0 {
            return Err(Error::Zero { what: "batch" });
        }
        let expected = ConvDesc::nchw_len(batch, self.in_channels(), input_hw)?;
        if input.len() != expected {
            return Err(Error::Length {
                what: "input",
                expected,
                actual: input.len(),
            });
        }
        let out_hw = self.output_size(input_hw)?;
        let expected = ConvDesc::nchw_len(batch, self.out_channels(), out_hw)?;
        if output.len() != expected {
            return Err(Error::Length {
                what: "output",
                expected,
                actual: output.len(),
            });
        }
        let last = self.layers.len() - 1;
        let mut hw = input_hw;
        let Workspace { ping, pong } = ws;
        for (i, layer) in self.layers.iter().enumerate() {
            let next_hw = layer.desc.output_size(hw)?;
            let src: &[f32] = if i == 0 { input } else { ping };
            if i == last {
                conv_reference(
                    &layer.desc,
                    batch,
                    hw,
                    src,
                    &layer.weight,
                    layer.bias(),
                    output,
                )?;
            } else {
                let len = ConvDesc::nchw_len(batch, layer.desc.out_channels, next_hw)?;
                pong.clear();
                pong.resize(len, 0.0);
                conv_reference(
                    &layer.desc,
                    batch,
                    hw,
                    src,
                    &layer.weight,
                    layer.bias(),
                    pong,
                )?;
                std::mem::swap(ping, pong);
            }
            hw = next_hw;
        }
        Ok(out_hw)
    }
}
