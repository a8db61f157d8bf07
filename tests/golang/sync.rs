//! Go's sync tests, in goro (see the test names).
