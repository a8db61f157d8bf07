//! `goro::select` — not yet written (see the open issues).
