//! `goro::context` — not yet written (see the open issues).
