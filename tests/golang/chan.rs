//! Go's chan tests, in goro (see the test names).
