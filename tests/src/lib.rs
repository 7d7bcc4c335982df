//! Helpers shared by the integration tests live in `tests/tests/`; this crate has no library code.
