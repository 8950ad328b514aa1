//! The demo county (filled in below).
