//! proptest model of the cancel tree: random trees of every context kind,
//! random cancels (with and without causes) in random order. After every
//! cancel each node's `err` and `cause` must match a simple reference
//! model: every descendant of a cancelled node (not behind a
//! `without_cancel`) is done with the first error and cause that reached
//! it, and no other node is. A second property drops a random set of
//! contexts (with their cancel functions): every value stored with
//! `with_value` is freed exactly when no kept context is below it (deadline
//! timers hold their contexts weakly).

use goro::context::{self, CancelCauseFunc, CancelFunc, Context, ContextError};
use proptest::prelude::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[derive(Debug)]
struct MyCause(usize);
impl std::fmt::Display for MyCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cause {}", self.0)
    }
}
impl std::error::Error for MyCause {}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Cancel,
    CancelCause,
    Timeout,
    Value,
    WithoutCancel,
}

enum Canceller {
    None,
    Plain(CancelFunc),
    Cause(CancelCauseFunc),
}

/// Reference state of one node: `Some((err, cause))` once done; the cause
/// is `Some(id)` for a given cause, `None` for "the error itself".
type State = Option<(ContextError, Option<usize>)>;

struct Model {
    /// (kind, parent index; usize::MAX = background)
    nodes: Vec<(Kind, usize)>,
    /// Own state of cancellable nodes.
    own: Vec<State>,
}

impl Model {
    fn effective(&self, i: usize) -> State {
        let (k, p) = self.nodes[i];
        match k {
            Kind::Cancel | Kind::CancelCause | Kind::Timeout => self.own[i],
            Kind::WithoutCancel => None,
            Kind::Value if p == usize::MAX => None,
            Kind::Value => self.effective(p),
        }
    }

    fn cancel(&mut self, i: usize, st: (ContextError, Option<usize>)) {
        if self.own[i].is_some() {
            return;
        }
        self.own[i] = Some(st);
        self.propagate(i, st);
    }

    /// Cancels every cancellable descendant of `i` reached through value
    /// nodes and cancellable nodes.
    fn propagate(&mut self, i: usize, st: (ContextError, Option<usize>)) {
        for j in 0..self.nodes.len() {
            if self.nodes[j].1 != i {
                continue;
            }
            match self.nodes[j].0 {
                Kind::WithoutCancel => {}
                Kind::Value => self.propagate(j, st),
                _ => self.cancel(j, st),
            }
        }
    }
}

fn check(ctxs: &[Context], model: &Model) -> Result<(), TestCaseError> {
    for (i, c) in ctxs.iter().enumerate() {
        let want = model.effective(i);
        prop_assert_eq!(
            c.err(),
            want.map(|w| w.0),
            "err of node {} ({:?})",
            i,
            model.nodes[i]
        );
        let got = context::cause(c).map(|cause| {
            if let Some(m) = cause.downcast_ref::<MyCause>() {
                (Some(m.0), None)
            } else {
                (None, cause.downcast_ref::<ContextError>().copied())
            }
        });
        let expect = want.map(|(e, cause)| match cause {
            Some(id) => (Some(id), None),
            None => (None, Some(e)),
        });
        prop_assert_eq!(got, expect, "cause of node {}", i);
    }
    Ok(())
}

fn kind_of(k: u8) -> Kind {
    match k % 5 {
        0 => Kind::Cancel,
        1 => Kind::CancelCause,
        2 => Kind::Timeout,
        3 => Kind::Value,
        _ => Kind::WithoutCancel,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn cancel_tree_matches_model(
        shape in prop::collection::vec((any::<u8>(), any::<usize>()), 1..40),
        ops in prop::collection::vec((any::<usize>(), any::<bool>(), any::<bool>()), 0..40),
    ) {
        let mut ctxs: Vec<Context> = Vec::new();
        let mut cancels: Vec<Canceller> = Vec::new();
        let mut model = Model { nodes: Vec::new(), own: Vec::new() };
        for (k, p) in shape {
            let kind = kind_of(k);
            // Parent: background or an earlier node.
            let parent = p % (ctxs.len() + 1);
            let (pctx, pidx) = if parent == ctxs.len() {
                (context::background(), usize::MAX)
            } else {
                (ctxs[parent].clone(), parent)
            };
            let (c, f) = match kind {
                Kind::Cancel => {
                    let (c, f) = context::with_cancel(&pctx);
                    (c, Canceller::Plain(f))
                }
                Kind::CancelCause => {
                    let (c, f) = context::with_cancel_cause(&pctx);
                    (c, Canceller::Cause(f))
                }
                Kind::Timeout => {
                    let (c, f) = context::with_timeout(&pctx, Duration::from_secs(3600));
                    (c, Canceller::Plain(f))
                }
                Kind::Value => (context::with_value(&pctx, ctxs.len()), Canceller::None),
                Kind::WithoutCancel => (context::without_cancel(&pctx), Canceller::None),
            };
            ctxs.push(c);
            cancels.push(f);
            model.nodes.push((kind, pidx));
            // A new child of a done node is done at once, with its state.
            let inherited = if pidx == usize::MAX { None } else { model.effective(pidx) };
            let own = match kind {
                Kind::Cancel | Kind::CancelCause | Kind::Timeout => inherited,
                _ => None,
            };
            model.own.push(own);
        }
        check(&ctxs, &model)?;
        for (op, (sel, with_cause, drop_others)) in ops.into_iter().enumerate() {
            let i = sel % ctxs.len();
            match &cancels[i] {
                Canceller::None => {}
                Canceller::Plain(f) => {
                    f.cancel();
                    model.cancel(i, (ContextError::Canceled, None));
                }
                Canceller::Cause(f) => {
                    if with_cause {
                        f.cancel(Some(Arc::new(MyCause(op))));
                        model.cancel(i, (ContextError::Canceled, Some(op)));
                    } else {
                        f.cancel(None);
                        model.cancel(i, (ContextError::Canceled, None));
                    }
                }
            }
            if drop_others {
                // Dropping a cancel func must change nothing observable.
                let j = (sel / 7) % ctxs.len();
                cancels[j] = Canceller::None;
            }
            check(&ctxs, &model)?;
        }
        // Values are intact whatever happened.
        for (i, c) in ctxs.iter().enumerate() {
            if model.nodes[i].0 == Kind::Value {
                prop_assert_eq!(c.value::<usize>(), Some(i));
            }
        }
    }
}

/// A value whose drop a test watches.
struct Watched(Arc<AtomicBool>);

impl Drop for Watched {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn dropped_contexts_free_exactly_their_values(
        shape in prop::collection::vec((any::<u8>(), any::<usize>()), 1..40),
        keep in prop::collection::vec(any::<bool>(), 40),
        cancels in prop::collection::vec(any::<usize>(), 0..5),
    ) {
        let mut ctxs: Vec<Option<(Context, Canceller)>> = Vec::new();
        let mut parents: Vec<usize> = Vec::new();
        let mut freed: Vec<Option<Arc<AtomicBool>>> = Vec::new();
        for (k, p) in shape {
            let parent = p % (ctxs.len() + 1);
            let pctx = if parent == ctxs.len() {
                context::background()
            } else {
                ctxs[parent].as_ref().unwrap().0.clone()
            };
            let mut flag = None;
            let (c, f) = match kind_of(k) {
                Kind::Cancel => {
                    let (c, f) = context::with_cancel(&pctx);
                    (c, Canceller::Plain(f))
                }
                Kind::CancelCause => {
                    let (c, f) = context::with_cancel_cause(&pctx);
                    (c, Canceller::Cause(f))
                }
                Kind::Timeout => {
                    let (c, f) = context::with_timeout(&pctx, Duration::from_secs(3600));
                    (c, Canceller::Plain(f))
                }
                Kind::Value => {
                    let f = Arc::new(AtomicBool::new(false));
                    flag = Some(f.clone());
                    (context::with_value(&pctx, Watched(f)), Canceller::None)
                }
                Kind::WithoutCancel => (context::without_cancel(&pctx), Canceller::None),
            };
            ctxs.push(Some((c, f)));
            parents.push(if parent == ctxs.len() - 1 { usize::MAX } else { parent });
            freed.push(flag);
        }
        // Some cancels first: they must not change what is freed.
        for c in cancels {
            match &ctxs[c % ctxs.len()].as_ref().unwrap().1 {
                Canceller::None => {}
                Canceller::Plain(f) => f.cancel(),
                Canceller::Cause(f) => f.cancel(None),
            }
        }
        for (i, c) in ctxs.iter_mut().enumerate() {
            if !keep[i] {
                *c = None;
            }
        }
        // A node is alive iff it is kept or is an ancestor of a kept node.
        let mut alive = vec![false; ctxs.len()];
        for (i, &kept) in keep.iter().enumerate().take(ctxs.len()) {
            if kept {
                let mut j = i;
                while j != usize::MAX && !alive[j] {
                    alive[j] = true;
                    j = parents[j];
                }
            }
        }
        for (i, f) in freed.iter().enumerate() {
            if let Some(f) = f {
                prop_assert_eq!(
                    f.load(Ordering::SeqCst),
                    !alive[i],
                    "value of node {} (kept: {})",
                    i,
                    keep[i]
                );
            }
        }
    }
}
