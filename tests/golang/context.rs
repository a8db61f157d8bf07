//! Go's context tests, in goro (see the test names).
