//! Test helpers
