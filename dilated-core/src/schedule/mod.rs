//! Schedule analysis: effective kernel, output size, padding, receptive field, coverage,
//! holes (the gridding effect) and the HDC design rules. No dependencies.
