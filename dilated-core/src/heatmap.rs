//! Coverage heat maps rendered as SVG, dependency-free (the CLI and the macro's generated docs share it).
