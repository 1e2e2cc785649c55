//! Typed access to a node's attributes.

use crate::error::{Error, Name};
use crate::proto::{AttributeProto, TensorProto};

/// A node's attributes, with the node's label and operator for errors.
pub(crate) struct Attrs<'a> {
    pub(crate) list: &'a [AttributeProto],
    pub(crate) node: &'a str,
    pub(crate) op: &'a str,
}

impl<'a> Attrs<'a> {
    pub(crate) fn get(&self, name: &str) -> Option<&'a AttributeProto> {
        self.list.iter().rev().find(|a| a.name == name)
    }

    /// An error about this node.
    pub(crate) fn err(&self, reason: impl Into<String>) -> Error {
        Error::Node {
            node: Name::from(self.node),
            op: Name::from(self.op),
            reason: reason.into(),
        }
    }

    pub(crate) fn int(&self, name: &str) -> Option<i64> {
        let a = self.get(name)?;
        a.i.or_else(|| (a.ints.len() == 1).then(|| a.ints[0]))
    }

    pub(crate) fn int_or(&self, name: &str, default: i64) -> i64 {
        self.int(name).unwrap_or(default)
    }

    pub(crate) fn ints(&self, name: &str) -> Option<&'a [i64]> {
        let a = self.get(name)?;
        Some(&a.ints)
    }

    pub(crate) fn float(&self, name: &str) -> Option<f32> {
        let a = self.get(name)?;
        a.f.or_else(|| (a.floats.len() == 1).then(|| a.floats[0]))
    }

    pub(crate) fn floats(&self, name: &str) -> Option<&'a [f32]> {
        Some(&self.get(name)?.floats)
    }

    /// A string attribute (bytes read as UTF-8, lossy).
    pub(crate) fn string(&self, name: &str) -> Option<String> {
        let s = self.get(name)?.s.as_ref()?;
        Some(String::from_utf8_lossy(s).into_owned())
    }

    pub(crate) fn tensor(&self, name: &str) -> Option<&'a TensorProto> {
        self.get(name)?.t.as_deref()
    }

    /// `ints` as non-negative values, each at least `min`.
    pub(crate) fn counts(&self, name: &str, min: u64) -> Result<Option<Vec<u64>>, Error> {
        let Some(v) = self.ints(name) else {
            return Ok(None);
        };
        v.iter()
            .map(|&x| {
                u64::try_from(x)
                    .ok()
                    .filter(|&x| x >= min)
                    .ok_or_else(|| self.err(format!("{name} holds {x}, expected at least {min}")))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}
