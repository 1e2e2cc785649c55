//! Tensors of a model: initializers, `Constant` values, folded constants and the splats
//! `ConstantOfShape` writes. Data stays where the file put it (a slice of the file's
//! buffer, a decoded list, or a checked reference into an external-data file next to the
//! model) until a caller converts it; a splat is never expanded unless asked.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use bytes::Bytes;

use crate::error::{Error, Name};
use crate::proto::TensorProto;
use crate::{MAX_ELEMENTS, MAX_RANK, MAX_SPLAT_ELEMENTS};

/// An ONNX element type (`TensorProto.DataType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DataType {
    /// `float` (1).
    Float,
    /// `uint8` (2).
    Uint8,
    /// `int8` (3).
    Int8,
    /// `uint16` (4).
    Uint16,
    /// `int16` (5).
    Int16,
    /// `int32` (6).
    Int32,
    /// `int64` (7).
    Int64,
    /// `string` (8).
    String,
    /// `bool` (9).
    Bool,
    /// `float16` (10).
    Float16,
    /// `double` (11).
    Double,
    /// `uint32` (12).
    Uint32,
    /// `uint64` (13).
    Uint64,
    /// `complex64` (14).
    Complex64,
    /// `complex128` (15).
    Complex128,
    /// `bfloat16` (16).
    Bfloat16,
    /// One of the 8-, 6-, 4- and 2-bit types (17 to 28), kept by code.
    Narrow(i32),
}

impl DataType {
    /// The type of an ONNX code; `None` for 0 (undefined) and unknown codes.
    #[must_use]
    pub const fn from_code(code: i32) -> Option<Self> {
        Some(match code {
            1 => Self::Float,
            2 => Self::Uint8,
            3 => Self::Int8,
            4 => Self::Uint16,
            5 => Self::Int16,
            6 => Self::Int32,
            7 => Self::Int64,
            8 => Self::String,
            9 => Self::Bool,
            10 => Self::Float16,
            11 => Self::Double,
            12 => Self::Uint32,
            13 => Self::Uint64,
            14 => Self::Complex64,
            15 => Self::Complex128,
            16 => Self::Bfloat16,
            17..=28 => Self::Narrow(code),
            _ => return None,
        })
    }

    /// The ONNX code.
    #[must_use]
    pub const fn code(self) -> i32 {
        match self {
            Self::Float => 1,
            Self::Uint8 => 2,
            Self::Int8 => 3,
            Self::Uint16 => 4,
            Self::Int16 => 5,
            Self::Int32 => 6,
            Self::Int64 => 7,
            Self::String => 8,
            Self::Bool => 9,
            Self::Float16 => 10,
            Self::Double => 11,
            Self::Uint32 => 12,
            Self::Uint64 => 13,
            Self::Complex64 => 14,
            Self::Complex128 => 15,
            Self::Bfloat16 => 16,
            Self::Narrow(c) => c,
        }
    }

    /// Bits per element in `raw_data` (`None` for strings).
    #[must_use]
    pub const fn bits(self) -> Option<u64> {
        Some(match self {
            Self::Uint8 | Self::Int8 | Self::Bool => 8,
            Self::Uint16 | Self::Int16 | Self::Float16 | Self::Bfloat16 => 16,
            Self::Float | Self::Int32 | Self::Uint32 => 32,
            Self::Int64 | Self::Double | Self::Uint64 | Self::Complex64 => 64,
            Self::Complex128 => 128,
            Self::String => return None,
            Self::Narrow(c) => match c {
                21..=23 => 4,
                25 | 26 => 2,
                27 | 28 => 6,
                _ => 8,
            },
        })
    }

    /// Whether the type holds integers (or booleans).
    #[must_use]
    pub const fn is_integer(self) -> bool {
        match self {
            Self::Uint8
            | Self::Int8
            | Self::Uint16
            | Self::Int16
            | Self::Int32
            | Self::Int64
            | Self::Bool
            | Self::Uint32
            | Self::Uint64 => true,
            Self::Float
            | Self::String
            | Self::Float16
            | Self::Double
            | Self::Complex64
            | Self::Complex128
            | Self::Bfloat16
            | Self::Narrow(_) => false,
        }
    }

    /// Whether [`Tensor::to_f32`] can convert it (real numbers of 8 bits or more).
    #[must_use]
    pub const fn is_real(self) -> bool {
        match self {
            Self::Float | Self::Float16 | Self::Bfloat16 | Self::Double => true,
            Self::String | Self::Complex64 | Self::Complex128 | Self::Narrow(_) => false,
            Self::Uint8
            | Self::Int8
            | Self::Uint16
            | Self::Int16
            | Self::Int32
            | Self::Int64
            | Self::Bool
            | Self::Uint32
            | Self::Uint64 => true,
        }
    }
}

/// A number: the value of a splat, or one element.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar {
    /// An integer (any integer type, booleans as 0 / 1).
    Int(i64),
    /// A real number.
    Float(f64),
}

impl Scalar {
    /// As a real number.
    #[must_use]
    pub fn as_f64(self) -> f64 {
        match self {
            Self::Int(v) => v as f64,
            Self::Float(v) => v,
        }
    }
}

/// A checked reference into an external-data file inside the model's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct External {
    /// The file, canonical (symbolic links resolved), inside the model's folder.
    pub path: PathBuf,
    /// The model's folder, canonical: the file is read only while it is still inside.
    pub root: PathBuf,
    /// Byte offset of the data.
    pub offset: u64,
    /// Byte length of the data.
    pub length: u64,
}

/// Where a tensor's elements are.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Data {
    /// Little-endian elements, exactly `len · bits / 8` bytes (rounded up).
    Raw(Bytes),
    F32(Vec<f32>),
    F64(Vec<f64>),
    /// `int32_data`: int32, and the narrower types (their bits), per element.
    I32(Vec<i32>),
    /// int64 elements, and every folded integer tensor.
    I64(Vec<i64>),
    /// `uint64_data`: uint32 and uint64.
    U64(Vec<u64>),
    /// Strings (only counted).
    Strings,
    /// Every element equal.
    Splat(Scalar),
    /// In an external file.
    External(Box<External>),
}

/// A tensor with its element type, dimensions and data.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub(crate) dtype: DataType,
    pub(crate) dims: Vec<u64>,
    pub(crate) len: u64,
    pub(crate) data: Data,
}

/// Element count of `dims`, checked against [`MAX_ELEMENTS`].
pub(crate) fn element_count(dims: &[u64]) -> Option<u64> {
    let mut n = 1u64;
    for &d in dims {
        n = n.checked_mul(d)?;
    }
    (n <= MAX_ELEMENTS).then_some(n)
}

fn tensor_err(name: &str, reason: impl Into<String>) -> Error {
    Error::Tensor {
        tensor: Name::from(name),
        reason: reason.into(),
    }
}

/// Checked dims of a `TensorProto` (or a declared shape): rank ≤ [`MAX_RANK`],
/// non-negative, product ≤ [`MAX_ELEMENTS`].
pub(crate) fn checked_dims(name: &str, dims: &[i64]) -> Result<(Vec<u64>, u64), Error> {
    if dims.len() > MAX_RANK {
        return Err(Error::Limit {
            what: "the rank of a tensor",
            actual: dims.len() as u64,
            limit: MAX_RANK as u64,
        });
    }
    let mut out = Vec::with_capacity(dims.len());
    for &d in dims {
        let Ok(d) = u64::try_from(d) else {
            return Err(tensor_err(name, format!("negative dimension {d}")));
        };
        out.push(d);
    }
    let Some(len) = element_count(&out) else {
        return Err(tensor_err(
            name,
            format!("its dimensions {dims:?} hold more than {MAX_ELEMENTS} elements (the limit)"),
        ));
    };
    Ok((out, len))
}

fn f16_to_f32(bits: u16) -> f32 {
    let sign = u32::from(bits >> 15) << 31;
    let exp = u32::from((bits >> 10) & 0x1f);
    let man = u32::from(bits & 0x3ff);
    let out = match (exp, man) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: m · 2^−24.
            let v = m as f32 * f32::from_bits(0x3380_0000);
            return if sign != 0 { -v } else { v };
        }
        (31, 0) => sign | 0x7f80_0000,
        (31, m) => sign | 0x7fc0_0000 | (m << 13),
        (e, m) => sign | ((e + 112) << 23) | (m << 13),
    };
    f32::from_bits(out)
}

fn bf16_to_f32(bits: u16) -> f32 {
    f32::from_bits(u32::from(bits) << 16)
}

impl Tensor {
    /// A tensor from a decoded `TensorProto`: dims checked, the data's length checked
    /// against them, external data resolved inside `dir` (refused without one).
    pub(crate) fn from_proto(t: TensorProto, dir: Option<&Path>) -> Result<Self, Error> {
        let name = t.name.as_str();
        let (dims, len) = checked_dims(name, &t.dims)?;
        let Some(dtype) = DataType::from_code(t.data_type) else {
            return Err(tensor_err(
                name,
                format!("unknown element type {}", t.data_type),
            ));
        };
        if t.data_location == 1 {
            let ext = resolve_external(name, &t, dtype, len, dir)?;
            return Ok(Self {
                dtype,
                dims,
                len,
                data: Data::External(Box::new(ext)),
            });
        }
        if t.data_location != 0 {
            return Err(tensor_err(
                name,
                format!("unknown data location {}", t.data_location),
            ));
        }
        let count_err = |field: &str, n: usize, per: u64| {
            tensor_err(
                name,
                format!(
                    "{field} holds {n} values, its dimensions {:?} call for {}",
                    dims,
                    len.saturating_mul(per)
                ),
            )
        };
        let data = if let Some(raw) = t.raw_data {
            let Some(bits) = dtype.bits() else {
                return Err(tensor_err(name, "string tensors cannot use raw_data"));
            };
            let need = len
                .checked_mul(bits)
                .map(|b| b.div_ceil(8))
                .ok_or_else(|| tensor_err(name, "byte size overflows"))?;
            if raw.len() as u64 != need {
                return Err(tensor_err(
                    name,
                    format!(
                        "raw_data holds {} bytes, its dimensions {:?} of {:?} call for {need}",
                        raw.len(),
                        dims,
                        dtype
                    ),
                ));
            }
            Data::Raw(raw)
        } else {
            // Complex numbers take two values per element.
            let per = match dtype {
                DataType::Complex64 | DataType::Complex128 => 2,
                DataType::Float
                | DataType::Uint8
                | DataType::Int8
                | DataType::Uint16
                | DataType::Int16
                | DataType::Int32
                | DataType::Int64
                | DataType::String
                | DataType::Bool
                | DataType::Float16
                | DataType::Double
                | DataType::Uint32
                | DataType::Uint64
                | DataType::Bfloat16
                | DataType::Narrow(_) => 1,
            };
            let check = |field: &str, n: usize| {
                if n as u64 == len.saturating_mul(per) {
                    Ok(())
                } else {
                    Err(count_err(field, n, per))
                }
            };
            match dtype {
                DataType::Float | DataType::Complex64 => {
                    check("float_data", t.float_data.len())?;
                    Data::F32(t.float_data)
                }
                DataType::Double | DataType::Complex128 => {
                    check("double_data", t.double_data.len())?;
                    Data::F64(t.double_data)
                }
                DataType::Int64 => {
                    check("int64_data", t.int64_data.len())?;
                    Data::I64(t.int64_data)
                }
                DataType::Uint32 | DataType::Uint64 => {
                    check("uint64_data", t.uint64_data.len())?;
                    Data::U64(t.uint64_data)
                }
                DataType::String => {
                    check("string_data", t.string_data.len())?;
                    Data::Strings
                }
                DataType::Uint8
                | DataType::Int8
                | DataType::Uint16
                | DataType::Int16
                | DataType::Int32
                | DataType::Bool
                | DataType::Float16
                | DataType::Bfloat16
                | DataType::Narrow(_) => {
                    check("int32_data", t.int32_data.len())?;
                    Data::I32(t.int32_data)
                }
            }
        };
        Ok(Self {
            dtype,
            dims,
            len,
            data,
        })
    }

    /// A tensor of `dims` whose elements all equal `value` (what `ConstantOfShape` makes).
    pub(crate) fn splat(dtype: DataType, dims: Vec<u64>, len: u64, value: Scalar) -> Self {
        Self {
            dtype,
            dims,
            len,
            data: Data::Splat(value),
        }
    }

    /// A folded integer tensor.
    pub(crate) fn ints(dtype: DataType, dims: Vec<u64>, values: Vec<i64>) -> Self {
        Self {
            dtype,
            len: values.len() as u64,
            dims,
            data: Data::I64(values),
        }
    }

    /// A folded real tensor.
    pub(crate) fn floats(dtype: DataType, dims: Vec<u64>, values: Vec<f64>) -> Self {
        Self {
            dtype,
            len: values.len() as u64,
            dims,
            data: Data::F64(values),
        }
    }

    /// The element type.
    #[must_use]
    pub fn dtype(&self) -> DataType {
        self.dtype
    }

    /// The dimensions.
    #[must_use]
    pub fn dims(&self) -> &[u64] {
        &self.dims
    }

    /// The number of elements (the product of the dimensions).
    #[must_use]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the tensor has no element.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The value every element holds, when the tensor is a splat (`ConstantOfShape`).
    #[must_use]
    pub fn splat_value(&self) -> Option<Scalar> {
        match self.data {
            Data::Splat(v) => Some(v),
            Data::Raw(_)
            | Data::F32(_)
            | Data::F64(_)
            | Data::I32(_)
            | Data::I64(_)
            | Data::U64(_)
            | Data::Strings
            | Data::External(_) => None,
        }
    }

    /// The external-data reference, when the data lives in another file.
    #[must_use]
    pub fn external(&self) -> Option<&External> {
        match &self.data {
            Data::External(e) => Some(e),
            Data::Raw(_)
            | Data::F32(_)
            | Data::F64(_)
            | Data::I32(_)
            | Data::I64(_)
            | Data::U64(_)
            | Data::Strings
            | Data::Splat(_) => None,
        }
    }

    /// Every element as a scalar (integers exactly, reals as `f64`), at most `limit` of
    /// them; a splat is expanded. Reads external data.
    pub(crate) fn scalars(&self, name: &str, limit: u64) -> Result<Vec<Scalar>, Error> {
        if self.len > limit {
            return Err(Error::Limit {
                what: "the elements of a tensor to expand",
                actual: self.len,
                limit,
            });
        }
        if !self.dtype.is_real() {
            return Err(tensor_err(
                name,
                format!(
                    "elements of type {:?} cannot be read as numbers",
                    self.dtype
                ),
            ));
        }
        let n = self.len as usize;
        let int = self.dtype.is_integer();
        let mk = |v: f64| Scalar::Float(v);
        Ok(match &self.data {
            Data::Splat(v) => vec![*v; n],
            Data::F32(v) => v.iter().map(|&x| mk(f64::from(x))).collect(),
            Data::F64(v) => v.iter().map(|&x| mk(x)).collect(),
            Data::I64(v) => {
                if int {
                    v.iter().map(|&x| Scalar::Int(x)).collect()
                } else {
                    v.iter().map(|&x| mk(x as f64)).collect()
                }
            }
            Data::U64(v) => v.iter().map(|&x| Scalar::Int(x as i64)).collect(),
            Data::I32(v) => v
                .iter()
                .map(|&x| match self.dtype {
                    DataType::Float16 => mk(f64::from(f16_to_f32(x as u16))),
                    DataType::Bfloat16 => mk(f64::from(bf16_to_f32(x as u16))),
                    DataType::Uint8 => Scalar::Int(i64::from(x as u8)),
                    DataType::Uint16 => Scalar::Int(i64::from(x as u16)),
                    DataType::Int8 => Scalar::Int(i64::from(x as i8)),
                    DataType::Int16 => Scalar::Int(i64::from(x as i16)),
                    DataType::Bool => Scalar::Int(i64::from(x != 0)),
                    DataType::Float
                    | DataType::Int32
                    | DataType::Int64
                    | DataType::String
                    | DataType::Double
                    | DataType::Uint32
                    | DataType::Uint64
                    | DataType::Complex64
                    | DataType::Complex128
                    | DataType::Narrow(_) => Scalar::Int(i64::from(x)),
                })
                .collect(),
            Data::Raw(b) => decode_raw(self.dtype, b),
            Data::External(e) => decode_raw(self.dtype, &read_external(name, e)?),
            Data::Strings => {
                return Err(tensor_err(name, "string tensors hold no numbers"));
            }
        })
    }

    /// The elements as `f32` (integers converted, a splat expanded up to
    /// [`MAX_SPLAT_ELEMENTS`]); reads external data. `name` is used in errors.
    pub fn to_f32(&self, name: &str) -> Result<Vec<f32>, Error> {
        match &self.data {
            Data::F32(v) => Ok(v.clone()),
            Data::Splat(v) => {
                if self.len > MAX_SPLAT_ELEMENTS {
                    return Err(Error::Limit {
                        what: "the elements of a tensor to expand",
                        actual: self.len,
                        limit: MAX_SPLAT_ELEMENTS,
                    });
                }
                Ok(vec![v.as_f64() as f32; self.len as usize])
            }
            Data::Raw(b) if self.dtype == DataType::Float => Ok(b
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()),
            Data::Raw(_)
            | Data::F64(_)
            | Data::I32(_)
            | Data::I64(_)
            | Data::U64(_)
            | Data::Strings
            | Data::External(_) => Ok(self
                .scalars(name, MAX_SPLAT_ELEMENTS)?
                .into_iter()
                .map(|s| s.as_f64() as f32)
                .collect()),
        }
    }
}

fn decode_raw(dtype: DataType, b: &[u8]) -> Vec<Scalar> {
    macro_rules! le {
        ($t:ty, $n:expr, $f:expr) => {
            b.chunks_exact($n)
                .map(|c| {
                    let mut a = [0u8; $n];
                    a.copy_from_slice(c);
                    $f(<$t>::from_le_bytes(a))
                })
                .collect()
        };
    }
    match dtype {
        DataType::Float => le!(f32, 4, |v: f32| Scalar::Float(f64::from(v))),
        DataType::Double => le!(f64, 8, Scalar::Float),
        DataType::Float16 => le!(u16, 2, |v| Scalar::Float(f64::from(f16_to_f32(v)))),
        DataType::Bfloat16 => le!(u16, 2, |v| Scalar::Float(f64::from(bf16_to_f32(v)))),
        DataType::Int8 => le!(i8, 1, |v| Scalar::Int(i64::from(v))),
        DataType::Uint8 => le!(u8, 1, |v| Scalar::Int(i64::from(v))),
        DataType::Bool => le!(u8, 1, |v| Scalar::Int(i64::from(v != 0))),
        DataType::Int16 => le!(i16, 2, |v| Scalar::Int(i64::from(v))),
        DataType::Uint16 => le!(u16, 2, |v| Scalar::Int(i64::from(v))),
        DataType::Int32 => le!(i32, 4, |v| Scalar::Int(i64::from(v))),
        DataType::Uint32 => le!(u32, 4, |v| Scalar::Int(i64::from(v))),
        DataType::Int64 => le!(i64, 8, Scalar::Int),
        DataType::Uint64 => le!(u64, 8, |v: u64| Scalar::Int(v as i64)),
        // `scalars` refuses these before decoding.
        DataType::String | DataType::Complex64 | DataType::Complex128 | DataType::Narrow(_) => {
            Vec::new()
        }
    }
}

/// Resolves an external-data reference: a relative path with no `..`, whose canonical
/// form (symbolic links resolved) stays inside the model's folder, naming a regular file
/// that holds `offset + length` bytes.
fn resolve_external(
    name: &str,
    t: &TensorProto,
    dtype: DataType,
    len: u64,
    dir: Option<&Path>,
) -> Result<External, Error> {
    let refuse = |reason: String| Error::ExternalData {
        tensor: Name::from(name),
        reason,
    };
    let Some(dir) = dir else {
        return Err(refuse(
            "the model was read from memory, so there is no folder to read it from".into(),
        ));
    };
    let mut location = None;
    let mut offset = 0u64;
    let mut length = None;
    for e in &t.external_data {
        let num = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| refuse(format!("{} is not a byte count: {:?}", e.key, v)))
        };
        match e.key.as_str() {
            "location" => location = Some(e.value.as_str()),
            "offset" => offset = num(&e.value)?,
            "length" => length = Some(num(&e.value)?),
            _ => {}
        }
    }
    let Some(location) = location.filter(|l| !l.is_empty()) else {
        return Err(refuse("no location given".into()));
    };
    if location.contains('\0') {
        return Err(refuse("the location holds a NUL byte".into()));
    }
    let rel = Path::new(location);
    for c in rel.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(refuse(format!(
                    "location {:?} leaves the model's folder; only paths inside it are read",
                    location
                )));
            }
        }
    }
    let root = dir
        .canonicalize()
        .map_err(|e| refuse(format!("the model's folder: {e}")))?;
    let path = root
        .join(rel)
        .canonicalize()
        .map_err(|e| refuse(format!("location {location:?}: {e}")))?;
    if !path.starts_with(&root) {
        return Err(refuse(format!(
            "location {location:?} is a symbolic link that leads outside the model's folder"
        )));
    }
    let meta = path
        .metadata()
        .map_err(|e| refuse(format!("location {location:?}: {e}")))?;
    if !meta.is_file() {
        return Err(refuse(format!(
            "location {location:?} is not a regular file"
        )));
    }
    let Some(bits) = dtype.bits() else {
        return Err(refuse("string tensors cannot be stored externally".into()));
    };
    let need = len
        .checked_mul(bits)
        .map(|b| b.div_ceil(8))
        .ok_or_else(|| refuse("byte size overflows".into()))?;
    let length = length.unwrap_or(need);
    if length != need {
        return Err(refuse(format!(
            "length {length} does not match the {need} bytes its dimensions call for"
        )));
    }
    let end = offset
        .checked_add(length)
        .ok_or_else(|| refuse("offset + length overflows".into()))?;
    if end > meta.len() {
        return Err(refuse(format!(
            "bytes {offset}..{end} run past the end of {location:?} ({} bytes)",
            meta.len()
        )));
    }
    Ok(External {
        path,
        root,
        offset,
        length,
    })
}

/// Reads external data, checking again that the file is still inside the folder and
/// still long enough (it may have changed since the model was read).
fn read_external(name: &str, e: &External) -> Result<Vec<u8>, Error> {
    let refuse = |reason: String| Error::ExternalData {
        tensor: Name::from(name),
        reason,
    };
    let path = e
        .path
        .canonicalize()
        .map_err(|err| refuse(format!("{err}")))?;
    if !path.starts_with(&e.root) {
        return Err(refuse(
            "the file now leads outside the model's folder".into(),
        ));
    }
    let mut f = File::open(&path).map_err(|err| refuse(format!("{err}")))?;
    let flen = f.metadata().map_err(|err| refuse(format!("{err}")))?.len();
    if e.offset.saturating_add(e.length) > flen {
        return Err(refuse(
            "the file is now shorter than the data it should hold".into(),
        ));
    }
    f.seek(SeekFrom::Start(e.offset))
        .map_err(|err| refuse(format!("{err}")))?;
    let mut buf = Vec::new();
    f.take(e.length)
        .read_to_end(&mut buf)
        .map_err(|err| refuse(format!("{err}")))?;
    if buf.len() as u64 != e.length {
        return Err(refuse("the file ended early".into()));
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_widening_is_exact() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x0001), 5.960_464_5e-8);
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
        assert!(f16_to_f32(0x7e00).is_nan());
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(bf16_to_f32(0x3f80), 1.0);
    }
}
