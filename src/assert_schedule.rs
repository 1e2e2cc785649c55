//! `assert_schedule!`: a const-context gridding check without the proc macro.
