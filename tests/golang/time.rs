//! Go's time tests, in goro (see the test names).
