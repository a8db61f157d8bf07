//! `goro::sync` — not yet written (see the open issues).
