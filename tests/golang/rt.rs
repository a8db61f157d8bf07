//! Go's rt tests, in goro (see the test names).
