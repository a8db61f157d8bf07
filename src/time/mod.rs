//! `goro::time` — not yet written (see the open issues).
