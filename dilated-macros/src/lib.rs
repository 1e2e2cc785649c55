//! The `dilated_stack!` proc macro.
#![forbid(unsafe_code)]
