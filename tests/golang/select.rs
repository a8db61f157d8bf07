//! Go's select tests, in goro (see the test names).
