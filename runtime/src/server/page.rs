//! The runner page: HTML and plain JavaScript, no build step, embedded in the binary.

pub const HTML: &str = include_str!("page.html");
