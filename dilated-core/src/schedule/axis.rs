//! The axes of a schedule. At the bottom of the module: the errors and the layer
//! descriptions both name an axis.

/// An axis of a schedule: `Length` for 1D schedules, `Height`/`Width` for 2D ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Axis {
    /// The only axis of a 1D schedule.
    Length,
    /// The first spatial axis of a 2D schedule.
    Height,
    /// The second spatial axis of a 2D schedule.
    Width,
}

impl Axis {
    /// `"length"`, `"height"` or `"width"`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Length => "length",
            Self::Height => "height",
            Self::Width => "width",
        }
    }
}
