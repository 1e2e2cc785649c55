//! libFuzzer target: any bytes, loaded as a safetensors weight set, into a stack and into
//! a model (the check of `dilated-core/tests/fuzz_weights.rs`). A panic, an abort, an error
//! message of more than one line or a runaway allocation is a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../dilated-core/tests/support/weights_targets.rs"]
mod weights_targets;

fuzz_target!(|data: &[u8]| {
    weights_targets::load(data);
});
