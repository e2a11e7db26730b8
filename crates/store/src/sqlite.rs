//! SQLite implementation of the store: to be written.
