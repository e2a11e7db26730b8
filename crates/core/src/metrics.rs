//! Metric parsing: to be written.
