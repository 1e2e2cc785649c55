//! The zoo's table: each entry's name, its source, and its two declarations (realistic and
//! `--small`), seen through [`Variant`] so the commands treat them alike.

use dilated::conv::Rank;
use dilated::schedule::{Level, Levels};

use dilated_core::model::ModelGraph;

use super::Net;
use super::nets::{
    Aspp, AsppSmall, Context, ContextSmall, DucHdc, DucHdcSmall, Esp, EspSmall, Tcn, TcnSmall,
    WaveNet, WaveNetSmall,
};

/// A network, or why it could not be made.
pub(crate) type NetResult = Result<Box<dyn Net>, String>;

/// One declaration of an entry, as the commands need it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Variant {
    /// The generated type's name, which is the twin class's name.
    pub(crate) class: &'static str,
    /// The twin's Python source (`PYTORCH`).
    pub(crate) pytorch: &'static str,
    /// 1D (`[C, L]`) or 2D (`[C, H, W]`).
    pub(crate) rank: Rank,
    /// `INPUT_SHAPE` as declared, `[C, H, W]` (`H` = 1 in 1D; 0 marks `_`).
    pub(crate) declared: [usize; 3],
    /// A concrete input shape `[C, H, W]`: the twin's `INPUT_SHAPE` and `bench`'s.
    pub(crate) example: [usize; 3],
    /// `RECEPTIVE_FIELD_HW` as the macro computed it.
    pub(crate) receptive_field_hw: [usize; 2],
    /// The declared `field: { receptive_field, jump }` (the same on both axes here).
    pub(crate) field: Option<(u64, u64)>,
    /// The declaration's `check:` levels.
    pub(crate) levels: Levels,
    /// The graph without weights (a chain as a graph of its convs).
    pub(crate) graph: fn() -> Result<ModelGraph, String>,
    /// Loads the twin's `state_dict` (safetensors bytes).
    pub(crate) load: fn(&[u8]) -> NetResult,
    /// PyTorch's default initialisation, seeded.
    pub(crate) seeded: fn(u64) -> NetResult,
}

/// One network of the zoo.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    /// The name the command line takes.
    pub(crate) name: &'static str,
    /// One line: what it is and where it comes from.
    pub(crate) about: &'static str,
    /// At a realistic size.
    pub(crate) full: Variant,
    /// At reduced widths, same structure (the committed fixtures).
    pub(crate) small: Variant,
}

impl Entry {
    /// The realistic or the reduced declaration.
    pub(crate) fn variant(&self, small: bool) -> &Variant {
        if small { &self.small } else { &self.full }
    }
}

/// A block stack's [`Variant`] (it runs on a `Model`).
macro_rules! graph_variant {
    ($ty:ident, $rank:expr, $example:expr, $field:expr, $levels:expr) => {
        Variant {
            class: stringify!($ty),
            pytorch: $ty::PYTORCH,
            rank: $rank,
            declared: $ty::INPUT_SHAPE,
            example: $example,
            receptive_field_hw: $ty::RECEPTIVE_FIELD_HW,
            field: $field,
            levels: $levels,
            graph: || $ty::graph().map_err(|e| e.to_string()),
            load: |bytes| {
                let net = $ty::from_safetensors_bytes(bytes).map_err(|e| e.to_string())?;
                Ok(Box::new(net.model().clone()))
            },
            seeded: |seed| {
                let net = $ty::new_seeded(seed).map_err(|e| e.to_string())?;
                Ok(Box::new(net.model().clone()))
            },
        }
    };
}

/// A chain stack's [`Variant`] (it runs on a `Stack`).
macro_rules! chain_variant {
    ($ty:ident, $rank:expr, $levels:expr) => {
        Variant {
            class: stringify!($ty),
            pytorch: $ty::PYTORCH,
            rank: $rank,
            declared: $ty::INPUT_SHAPE,
            example: $ty::INPUT_SHAPE,
            receptive_field_hw: $ty::RECEPTIVE_FIELD_HW,
            field: None,
            levels: $levels,
            graph: || super::chain_graph(&$ty::LAYERS),
            load: |bytes| {
                let net = $ty::from_safetensors_bytes(bytes).map_err(|e| e.to_string())?;
                Ok(Box::new(net.stack().clone()))
            },
            seeded: |seed| {
                let net = $ty::new_seeded(seed).map_err(|e| e.to_string())?;
                Ok(Box::new(net.stack().clone()))
            },
        }
    };
}

/// `check: { hdc1: allow, hdc2: allow }` (TCN: repeated, doubling rates).
const TCN_LEVELS: Levels = Levels {
    hdc1: Level::Allow,
    hdc2: Level::Allow,
    ..Levels::DEFAULT
};
/// `check: { long_range: allow }`.
const LONG_RANGE_ALLOWED: Levels = Levels {
    long_range: Level::Allow,
    ..Levels::DEFAULT
};
/// `check: { hdc1: allow, hdc2: allow, long_range: allow }` (DUC-HDC).
const DUC_LEVELS: Levels = Levels {
    hdc1: Level::Allow,
    hdc2: Level::Allow,
    long_range: Level::Allow,
    ..Levels::DEFAULT
};
/// `check: { holes: allow }` (ESP: its parallel lattices grid on raw pixels).
const HOLES_ALLOWED: Levels = Levels {
    holes: Level::Allow,
    ..Levels::DEFAULT
};

/// torchvision's ResNet-101 at output stride 16: receptive field 971 px, jump 16.
const RESNET101_OS16: Option<(u64, u64)> = Some((971, 16));

/// Every entry, in the order `list` prints them.
pub(crate) static ENTRIES: [Entry; 6] = [
    Entry {
        name: "wavenet",
        about: "WaveNet (van den Oord et al. 2016; ibab/tensorflow-wavenet): gated residual \
                blocks, kernel 2, causal, rates 1…512 five times, skip sum and head",
        full: graph_variant!(WaveNet, Rank::One, [256, 1, 8192], None, Levels::DEFAULT),
        small: graph_variant!(WaveNetSmall, Rank::One, [4, 1, 2100], None, Levels::DEFAULT),
    },
    Entry {
        name: "tcn",
        about: "TCN (Bai et al. 2018; locuslab/TCN, sequential MNIST): TemporalBlocks of two \
                weight-normed causal convs, kernel 7, rates 1…128, 1×1 downsample",
        full: graph_variant!(Tcn, Rank::One, [1, 1, 784], None, TCN_LEVELS),
        small: graph_variant!(TcnSmall, Rank::One, [1, 1, 3100], None, TCN_LEVELS),
    },
    Entry {
        name: "aspp",
        about: "DeepLab v3's head (Chen et al. 2017; torchvision DeepLabHead): ASPP at rates \
                6, 12, 18 with image pooling on ResNet-101 features (field 971 px, jump 16)",
        full: graph_variant!(
            Aspp,
            Rank::Two,
            Aspp::INPUT_SHAPE,
            RESNET101_OS16,
            LONG_RANGE_ALLOWED
        ),
        small: graph_variant!(
            AsppSmall,
            Rank::Two,
            AsppSmall::INPUT_SHAPE,
            RESNET101_OS16,
            LONG_RANGE_ALLOWED
        ),
    },
    Entry {
        name: "duc_hdc",
        about: "TuSimple-DUC's ResNet-101-HDC res4 (Wang et al. 2018): 23 bottlenecks with \
                batch norm at rates 2, 2, 5, 9, then 1, 2, 5, 9, …",
        full: graph_variant!(DucHdc, Rank::Two, DucHdc::INPUT_SHAPE, None, DUC_LEVELS),
        small: graph_variant!(
            DucHdcSmall,
            Rank::Two,
            DucHdcSmall::INPUT_SHAPE,
            None,
            DUC_LEVELS
        ),
    },
    Entry {
        name: "esp",
        about: "ESPNet's ESP module (Mehta et al. 2018; sacmehta/ESPNet): 1×1 reduction, \
                rates 1, 2, 4, 8, 16, hierarchical fusion, residual, batch norm, PReLU",
        full: graph_variant!(Esp, Rank::Two, Esp::INPUT_SHAPE, None, HOLES_ALLOWED),
        small: graph_variant!(
            EspSmall,
            Rank::Two,
            EspSmall::INPUT_SHAPE,
            None,
            HOLES_ALLOWED
        ),
    },
    Entry {
        name: "context",
        about: "Yu & Koltun's large context module (ICLR 2016): a chain of 3×3 convs at rates \
                1, 1, 2, 4, 8, 16, 1 and a 1×1 conv",
        full: chain_variant!(Context, Rank::Two, LONG_RANGE_ALLOWED),
        small: chain_variant!(ContextSmall, Rank::Two, LONG_RANGE_ALLOWED),
    },
];

/// The entry called `name`.
pub(crate) fn find(name: &str) -> Result<&'static Entry, String> {
    ENTRIES.iter().find(|e| e.name == name).ok_or_else(|| {
        let names: Vec<&str> = ENTRIES.iter().map(|e| e.name).collect();
        format!("unknown network `{name}`: the zoo has {}", names.join(", "))
    })
}
