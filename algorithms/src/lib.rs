//! Search algorithms: to be written.
