//! Weights in the safetensors format, named as PyTorch names them.
//!
//! A stack's twin in PyTorch is an `nn.Sequential` of convolutions and activations
//! (`conv, act, conv, act, …`), saved with
//! `safetensors.torch.save_file(model.state_dict(), path)`. The convolution at module
//! index `i` stores
//!
//! - `{i}.weight`: `[C_out, C_in / groups, KH, KW]` for a `Conv2d`, `[C_out, C_in / groups, K]`
//!   for a `Conv1d`;
//! - `{i}.bias`: `[C_out]`, when the layer has a bias.
//!
//! Activations hold no tensors but take module indices, so the convolutions of
//! `conv, relu, conv, relu, conv` sit at 0, 2 and 4: the caller says where each one is.
//!
//! Loading is strict, like PyTorch's `load_state_dict` by default: a missing tensor, a
//! tensor of the wrong shape and a tensor left over when every layer has taken its own are
//! all typed errors that name the tensor ([`Error::MissingTensor`],
//! [`Error::WeightShape`], [`Error::UnexpectedTensors`]).
//!
//! **Dtypes.** `F32` is read as is. `F16` and `BF16` are widened to `f32`, which is exact
//! (every value of either format is an `f32`). Every other dtype, `F64` included, is
//! rejected with [`Error::WeightDtype`]: narrowing `f64` would silently change the model,
//! so convert it in PyTorch (`model.float()`) before saving. Writing always produces `F32`.
//!
//! ```
//! use dilated_core::{ConvDesc, conv::Conv, conv::Rank, weights::Weights};
//! let desc = ConvDesc::same_2d(2, 3, 3, 2);
//! let layer = Conv::new(desc, vec![0.5; 3 * 2 * 3 * 3], Some(vec![0.1, 0.2, 0.3]))?;
//! let mut w = Weights::new();
//! w.insert_conv(0, &layer, Rank::Two)?;
//! let bytes = w.to_safetensors_bytes()?;
//!
//! let mut back = Weights::from_safetensors_bytes(&bytes)?;
//! assert_eq!(back.shape("0.weight"), Some(&[3, 2, 3, 3][..]));
//! let loaded = back.take_conv(0, desc, Rank::Two)?;
//! back.finish()?; // nothing left over
//! assert_eq!(loaded, layer);
//! # Ok::<(), dilated_core::Error>(())
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use safetensors::{Dtype, SafeTensors};

use crate::Error;
use crate::conv::{Conv, ConvDesc, Rank, check_rank};

/// One named tensor: its shape and its values, or the dtype that kept them from being read.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    shape: Vec<usize>,
    /// `Err(dtype)` for a dtype that is not read (reported only if the tensor is used).
    data: Result<Vec<f32>, String>,
}

/// A set of named `f32` tensors, read from or written to safetensors. Layers take their
/// tensors out by name ([`take`](Self::take), [`take_conv`](Self::take_conv)); whatever is
/// left at [`finish`](Self::finish) is an error.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Weights {
    tensors: BTreeMap<String, Entry>,
}

fn format_error(e: &safetensors::SafeTensorError) -> Error {
    Error::Format {
        message: e.to_string(),
    }
}

fn io_error(action: &'static str, path: &Path, e: &std::io::Error) -> Error {
    Error::Io {
        action,
        path: path.display().to_string(),
        kind: e.kind(),
        message: e.to_string(),
    }
}

#[allow(
    clippy::wildcard_enum_match_arm,
    reason = "safetensors' Dtype is another crate's #[non_exhaustive] enum: a wildcard arm is required"
)]
fn decode(dtype: Dtype, bytes: &[u8]) -> Result<Vec<f32>, String> {
    match dtype {
        Dtype::F32 => Ok(bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()),
        Dtype::F16 => Ok(bytes
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect()),
        Dtype::BF16 => Ok(bytes
            .chunks_exact(2)
            .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect()),
        other => Err(other.to_string()),
    }
}

/// The shape PyTorch gives a convolution's weight: `[C_out, C_in/groups, KH, KW]`, or
/// `[C_out, C_in/groups, K]` for a 1D layer.
#[must_use]
pub fn conv_weight_shape(desc: &ConvDesc, rank: Rank) -> Vec<usize> {
    let cpg = desc.in_channels / desc.groups.max(1);
    match rank {
        Rank::One => vec![desc.out_channels, cpg, desc.kernel[1]],
        Rank::Two => vec![desc.out_channels, cpg, desc.kernel[0], desc.kernel[1]],
    }
}

impl Weights {
    /// An empty set.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses safetensors `bytes`. Fails with [`Error::Format`] on malformed data; a tensor
    /// of an unsupported dtype is an error only when a layer asks for it (or, unused, at
    /// [`finish`](Self::finish)).
    pub fn from_safetensors_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let st = SafeTensors::deserialize(bytes).map_err(|e| format_error(&e))?;
        let mut tensors = BTreeMap::new();
        for (name, view) in st.iter() {
            let entry = Entry {
                shape: view.shape().to_vec(),
                data: decode(view.dtype(), view.data()),
            };
            tensors.insert(name.to_owned(), entry);
        }
        Ok(Self { tensors })
    }

    /// Reads and parses the safetensors file at `path` ([`Error::Io`] when it cannot be
    /// read).
    pub fn from_safetensors(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| io_error("read", path, &e))?;
        Self::from_safetensors_bytes(&bytes)
    }

    /// Adds (or replaces) the tensor `name` of `shape`. Fails when `data` does not hold
    /// the product of `shape` elements.
    pub fn insert(
        &mut self,
        name: impl Into<String>,
        shape: Vec<usize>,
        data: Vec<f32>,
    ) -> Result<(), Error> {
        let expected = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or(Error::Overflow {
                what: "tensor size",
            })?;
        if expected != data.len() {
            return Err(Error::Length {
                what: "tensor data",
                expected,
                actual: data.len(),
            });
        }
        self.tensors.insert(
            name.into(),
            Entry {
                shape,
                data: Ok(data),
            },
        );
        Ok(())
    }

    /// Adds a convolution's `{module}.weight` (and `{module}.bias`) in PyTorch's layout.
    pub fn insert_conv(&mut self, module: usize, layer: &Conv, rank: Rank) -> Result<(), Error> {
        self.insert_conv_prefixed(&format!("{module}."), layer, rank)
    }

    /// Adds a convolution's `{prefix}weight` (and `{prefix}bias`) in PyTorch's layout.
    pub fn insert_conv_prefixed(
        &mut self,
        prefix: &str,
        layer: &Conv,
        rank: Rank,
    ) -> Result<(), Error> {
        let desc = layer.desc();
        check_rank(desc, rank)?;
        self.insert(
            format!("{prefix}weight"),
            conv_weight_shape(desc, rank),
            layer.weight().to_vec(),
        )?;
        if let Some(b) = layer.bias() {
            self.insert(format!("{prefix}bias"), vec![b.len()], b.to_vec())?;
        }
        Ok(())
    }

    /// Number of tensors.
    #[must_use]
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Whether there are no tensors.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// The names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// The shape of tensor `name`, if present.
    #[must_use]
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.tensors.get(name).map(|e| e.shape.as_slice())
    }

    /// The values of tensor `name`: `None` if absent, an error if its dtype is not read.
    pub fn get(&self, name: &str) -> Option<Result<&[f32], Error>> {
        self.tensors.get(name).map(|e| match &e.data {
            Ok(d) => Ok(d.as_slice()),
            Err(dtype) => Err(Error::WeightDtype {
                name: name.to_owned(),
                dtype: dtype.clone(),
            }),
        })
    }

    /// Removes tensor `name` and returns its values, checking that it exists, that its
    /// dtype is read, and that its shape is `shape`.
    pub fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, Error> {
        let entry = self
            .tensors
            .remove(name)
            .ok_or_else(|| Error::MissingTensor {
                name: name.to_owned(),
            })?;
        let data = entry.data.map_err(|dtype| Error::WeightDtype {
            name: name.to_owned(),
            dtype,
        })?;
        if entry.shape != shape {
            return Err(Error::WeightShape {
                name: name.to_owned(),
                expected: shape.to_vec(),
                actual: entry.shape,
            });
        }
        Ok(data)
    }

    /// Takes the convolution at module index `module` (`{module}.weight`, and
    /// `{module}.bias` when `desc.bias`) and builds its layer.
    pub fn take_conv(&mut self, module: usize, desc: ConvDesc, rank: Rank) -> Result<Conv, Error> {
        self.take_conv_prefixed(&format!("{module}."), desc, rank)
    }

    /// Takes the convolution stored as `{prefix}weight` (and `{prefix}bias` when
    /// `desc.bias`) and builds its layer. An empty prefix reads the `state_dict` of a bare
    /// `nn.Conv2d` (`weight`, `bias`); `"encoder.3."` reads a nested module.
    pub fn take_conv_prefixed(
        &mut self,
        prefix: &str,
        desc: ConvDesc,
        rank: Rank,
    ) -> Result<Conv, Error> {
        desc.validate()?;
        check_rank(&desc, rank)?;
        let weight = self.take(&format!("{prefix}weight"), &conv_weight_shape(&desc, rank))?;
        let bias = if desc.bias {
            Some(self.take(&format!("{prefix}bias"), &[desc.out_channels])?)
        } else {
            None
        };
        Conv::new(desc, weight, bias)
    }

    /// Ends strict loading: fails with [`Error::UnexpectedTensors`] if any tensor was not
    /// taken.
    pub fn finish(self) -> Result<(), Error> {
        if self.tensors.is_empty() {
            Ok(())
        } else {
            Err(Error::UnexpectedTensors {
                names: self.tensors.into_keys().collect(),
            })
        }
    }

    /// Ends lenient loading (PyTorch's `strict=False`): the names of the tensors no layer
    /// took, sorted.
    #[must_use]
    pub fn into_remaining(self) -> Vec<String> {
        self.tensors.into_keys().collect()
    }

    /// Serialises every tensor as `F32` safetensors. Fails if a tensor holds an unread
    /// dtype.
    pub fn to_safetensors_bytes(&self) -> Result<Vec<u8>, Error> {
        let mut raw: Vec<(&str, &[usize], Vec<u8>)> = Vec::with_capacity(self.tensors.len());
        for (name, e) in &self.tensors {
            let data = e.data.as_ref().map_err(|dtype| Error::WeightDtype {
                name: name.clone(),
                dtype: dtype.clone(),
            })?;
            let bytes = data.iter().flat_map(|v| v.to_le_bytes()).collect();
            raw.push((name, &e.shape, bytes));
        }
        let mut views = Vec::with_capacity(raw.len());
        for (name, shape, bytes) in &raw {
            let view = safetensors::tensor::TensorView::new(Dtype::F32, shape.to_vec(), bytes)
                .map_err(|e| format_error(&e))?;
            views.push((*name, view));
        }
        safetensors::serialize(views, None).map_err(|e| format_error(&e))
    }

    /// Writes every tensor to `path` as `F32` safetensors.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        let path = path.as_ref();
        let bytes = self.to_safetensors_bytes()?;
        std::fs::write(path, bytes).map_err(|e| io_error("write", path, &e))
    }
}
