//! The checks of the analysis, their levels, and the one table of the names that set them:
//! the proc macro's `check: { … }` keys and the `dilated` command's
//! `--deny`/`--warn`/`--allow` both parse through [`CheckName::find`], so the two accept the
//! same words and mean the same checks by them.

/// How a failed check is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Not reported.
    Allow,
    /// A warning: `cargo build` passes, the CLI exits 0.
    Warn,
    /// An error: `cargo build` fails, the CLI exits 1.
    Deny,
}

impl Level {
    /// `"allow"`, `"warning"` or `"error"`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Warn => "warning",
            Self::Deny => "error",
        }
    }
}

/// The checks, each with its own [`Level`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CheckId {
    /// The exact check: an offset inside the receptive field that no path reaches.
    Holes,
    /// HDC rule 1: `M_2 ≤ K` per rising group.
    Hdc1,
    /// HDC rule 2: a sawtooth, no repeated rate.
    Hdc2,
    /// HDC rule 3: no common factor > 1.
    Hdc3,
    /// A layer whose effective kernel exceeds its padded input: no output.
    NoOutput,
    /// An effective kernel wider than its unpadded input, or a receptive field wider than
    /// the input: most taps read padding (long-range context).
    LongRange,
}

impl CheckId {
    /// Every check, in report order.
    pub const ALL: [Self; 6] = [
        Self::Holes,
        Self::Hdc3,
        Self::Hdc1,
        Self::Hdc2,
        Self::NoOutput,
        Self::LongRange,
    ];

    /// The check's id, the one word for it everywhere: the macro's `check: { … }` keys
    /// and `= note:` lines, the command's `--deny`/`--warn`/`--allow`, the `error[…]`
    /// prefix of [`Diagnostic`](super::Diagnostic)'s text and the JSON `check` field:
    /// `holes`, `hdc1`, `hdc2`, `hdc3`, `no_output`, `long_range`. Other accepted names
    /// are in [`CheckName::ALL`].
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Holes => "holes",
            Self::Hdc1 => "hdc1",
            Self::Hdc2 => "hdc2",
            Self::Hdc3 => "hdc3",
            Self::NoOutput => "no_output",
            Self::LongRange => "long_range",
        }
    }
}

/// The level of every check. Defaults: holes, HDC rule 3 and no-output deny; HDC rules 1
/// and 2 and long-range warn.
///
/// ```
/// use dilated_core::schedule::{CheckId, Level, Levels};
/// let strict = Levels::default().strict_hdc();
/// assert_eq!(strict.get(CheckId::Hdc1), Level::Deny);
/// assert_eq!(Levels::default().get(CheckId::Hdc2), Level::Warn);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Levels {
    /// Holes (gridding).
    pub holes: Level,
    /// HDC rule 1.
    pub hdc1: Level,
    /// HDC rule 2.
    pub hdc2: Level,
    /// HDC rule 3.
    pub hdc3: Level,
    /// No output.
    pub no_output: Level,
    /// Long-range context.
    pub long_range: Level,
}

impl Levels {
    /// The defaults.
    pub const DEFAULT: Self = Self {
        holes: Level::Deny,
        hdc1: Level::Warn,
        hdc2: Level::Warn,
        hdc3: Level::Deny,
        no_output: Level::Deny,
        long_range: Level::Warn,
    };

    /// HDC rules 1, 2 and 3 at error level.
    #[must_use]
    pub const fn strict_hdc(mut self) -> Self {
        self.hdc1 = Level::Deny;
        self.hdc2 = Level::Deny;
        self.hdc3 = Level::Deny;
        self
    }

    /// The level of one check.
    #[must_use]
    pub const fn get(&self, check: CheckId) -> Level {
        match check {
            CheckId::Holes => self.holes,
            CheckId::Hdc1 => self.hdc1,
            CheckId::Hdc2 => self.hdc2,
            CheckId::Hdc3 => self.hdc3,
            CheckId::NoOutput => self.no_output,
            CheckId::LongRange => self.long_range,
        }
    }

    /// Sets the level of every check a [`CheckName`] names (one, or the three HDC rules for
    /// `hdc`).
    ///
    /// ```
    /// use dilated_core::schedule::{CheckId, CheckName, Level, Levels};
    /// let mut levels = Levels::default();
    /// levels.set_named(CheckName::find("hdc").unwrap(), Level::Allow);
    /// levels.set_named(CheckName::find("no-output").unwrap(), Level::Warn);
    /// assert_eq!(levels.get(CheckId::Hdc3), Level::Allow);
    /// assert_eq!(levels.get(CheckId::NoOutput), Level::Warn);
    /// ```
    pub fn set_named(&mut self, name: CheckName, level: Level) {
        for &check in name.checks {
            self.set(check, level);
        }
    }

    /// Sets the level of one check.
    pub const fn set(&mut self, check: CheckId, level: Level) {
        match check {
            CheckId::Holes => self.holes = level,
            CheckId::Hdc1 => self.hdc1 = level,
            CheckId::Hdc2 => self.hdc2 = level,
            CheckId::Hdc3 => self.hdc3 = level,
            CheckId::NoOutput => self.no_output = level,
            CheckId::LongRange => self.long_range = level,
        }
    }
}

impl Default for Levels {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What kind of name a [`CheckName`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameKind {
    /// A check's id ([`CheckId::name`]).
    Id,
    /// Another word for one check: `gridding` for `holes`.
    Alias,
    /// A name for several checks: `hdc` for the three HDC rules.
    Group,
    /// A hyphenated spelling of an id (`hdc-rule-1`, `no-output`, `long-range`), the
    /// `dilated` command's earlier words: accepted, not offered in messages.
    Hyphenated,
}

/// A name that sets the level of checks: an id, an alias, a group or a hyphenated spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CheckName {
    /// The name, as written.
    pub name: &'static str,
    /// The checks it sets.
    pub checks: &'static [CheckId],
    /// What kind of name it is.
    pub kind: NameKind,
}

const HDC_RULES: &[CheckId] = &[CheckId::Hdc1, CheckId::Hdc2, CheckId::Hdc3];

impl CheckName {
    /// Every accepted name, in the order the documentation lists them (and "did you mean"
    /// hints try them): `holes`, `gridding`, `hdc`, `hdc1`, `hdc2`, `hdc3`, `no_output`,
    /// `long_range`, then the hyphenated spellings.
    pub const ALL: &'static [Self] = &[
        Self::new(CheckId::Holes.name(), &[CheckId::Holes], NameKind::Id),
        Self::new("gridding", &[CheckId::Holes], NameKind::Alias),
        Self::new("hdc", HDC_RULES, NameKind::Group),
        Self::new(CheckId::Hdc1.name(), &[CheckId::Hdc1], NameKind::Id),
        Self::new(CheckId::Hdc2.name(), &[CheckId::Hdc2], NameKind::Id),
        Self::new(CheckId::Hdc3.name(), &[CheckId::Hdc3], NameKind::Id),
        Self::new(CheckId::NoOutput.name(), &[CheckId::NoOutput], NameKind::Id),
        Self::new(
            CheckId::LongRange.name(),
            &[CheckId::LongRange],
            NameKind::Id,
        ),
        Self::new("hdc-rule-1", &[CheckId::Hdc1], NameKind::Hyphenated),
        Self::new("hdc-rule-2", &[CheckId::Hdc2], NameKind::Hyphenated),
        Self::new("hdc-rule-3", &[CheckId::Hdc3], NameKind::Hyphenated),
        Self::new("no-output", &[CheckId::NoOutput], NameKind::Hyphenated),
        Self::new("long-range", &[CheckId::LongRange], NameKind::Hyphenated),
    ];

    const fn new(name: &'static str, checks: &'static [CheckId], kind: NameKind) -> Self {
        Self { name, checks, kind }
    }

    /// The name `text` (as written: no trimming, case-sensitive), if it is one.
    ///
    /// ```
    /// use dilated_core::schedule::{CheckId, CheckName};
    /// assert_eq!(CheckName::find("gridding").unwrap().checks, [CheckId::Holes]);
    /// assert_eq!(CheckName::find("hdc-rule-2").unwrap().checks, [CheckId::Hdc2]);
    /// assert_eq!(CheckName::find("hdc").unwrap().checks.len(), 3);
    /// assert!(CheckName::find("hdc4").is_none());
    /// ```
    #[must_use]
    pub fn find(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|n| n.name == text)
    }

    /// The names messages offer ("expected one of …"), in [`ALL`](Self::ALL)'s order: the
    /// ids, `gridding` and `hdc` (not the hyphenated spellings).
    pub fn offered() -> impl Iterator<Item = &'static str> {
        Self::ALL
            .iter()
            .filter(|n| match n.kind {
                NameKind::Id | NameKind::Alias | NameKind::Group => true,
                NameKind::Hyphenated => false,
            })
            .map(|n| n.name)
    }
}

#[cfg(test)]
mod tests {
    use super::{CheckId, CheckName, NameKind};

    #[test]
    fn every_check_has_one_id_and_every_name_is_unique() {
        for check in CheckId::ALL {
            let ids: Vec<&CheckName> = CheckName::ALL
                .iter()
                .filter(|n| n.kind == NameKind::Id && n.checks == [check])
                .collect();
            assert_eq!(ids.len(), 1, "{check:?}");
            assert_eq!(ids[0].name, check.name());
        }
        for (i, a) in CheckName::ALL.iter().enumerate() {
            assert!(!a.checks.is_empty(), "{}", a.name);
            assert!(
                CheckName::ALL[i + 1..].iter().all(|b| b.name != a.name),
                "{} twice",
                a.name
            );
        }
    }

    #[test]
    fn hyphenated_names_spell_their_ids() {
        for n in CheckName::ALL
            .iter()
            .filter(|n| n.kind == NameKind::Hyphenated)
        {
            let id = n.checks[0].name();
            assert_eq!(n.name.replace("-rule-", "").replace('-', "_"), id);
        }
        let offered: Vec<&str> = CheckName::offered().collect();
        assert_eq!(
            offered,
            [
                "holes",
                "gridding",
                "hdc",
                "hdc1",
                "hdc2",
                "hdc3",
                "no_output",
                "long_range"
            ]
        );
    }
}
