//! `goro::chan` — not yet written (see the open issues).
