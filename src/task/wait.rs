//! Wait reasons: why a parked G is parked, as Go's `waitReason` strings.
//!
//! Mirrors `waitReason` in Go's `runtime2.go`. A primitive that is about to
//! return `Poll::Pending` calls `runtime::set_wait_reason`
//! so the goroutine dump (`goro::runtime::stack()`) and the deadlock report
//! can say what each G waits for, in Go's words.

/// Why a G is parked, printed in dumps in Go's words (`chan receive`, …).
///
/// # Examples
///
/// ```
/// use goro::runtime::WaitReason;
/// assert_eq!(WaitReason::ChanReceive.to_string(), "chan receive");
/// assert_eq!(WaitReason::WaitGroupWait.as_str(), "sync.WaitGroup.Wait");
/// assert_eq!(WaitReason::default(), WaitReason::None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum WaitReason {
    /// Not waiting on a goro primitive (or not recorded).
    #[default]
    None,
    /// `<-ch`
    ChanReceive,
    /// `ch <- v`
    ChanSend,
    /// receive from a nil channel
    ChanReceiveNilChan,
    /// send on a nil channel
    ChanSendNilChan,
    /// a `select` with cases
    Select,
    /// `select {}`
    SelectNoCases,
    /// `WaitGroup::wait`
    WaitGroupWait,
    /// `time::sleep`
    Sleep,
    /// waiting on a `JoinHandle`
    JoinHandle,
    /// waiting for a `Semaphore` permit (also `ErrGroup`'s limit slot)
    Semacquire,
    /// `Mutex::lock` (and `Once`/`OnceCell` waiting for the first call)
    SyncMutexLock,
    /// waiting for a socket or file to become ready (the network poller)
    IOWait,
    /// `RwMutex::read`
    SyncRWMutexRLock,
    /// `RwMutex::write`
    SyncRWMutexLock,
    /// `Cond::wait`
    SyncCondWait,
}

impl WaitReason {
    /// Go's spelling of the reason, as printed in `goroutine N [reason]:`.
    ///
    /// # Examples
    ///
    /// ```
    /// use goro::runtime::WaitReason;
    /// assert_eq!(WaitReason::Select.as_str(), "select");
    /// assert_eq!(WaitReason::SelectNoCases.as_str(), "select (no cases)");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            WaitReason::None => "",
            WaitReason::ChanReceive => "chan receive",
            WaitReason::ChanSend => "chan send",
            WaitReason::ChanReceiveNilChan => "chan receive (nil chan)",
            WaitReason::ChanSendNilChan => "chan send (nil chan)",
            WaitReason::Select => "select",
            WaitReason::SelectNoCases => "select (no cases)",
            WaitReason::WaitGroupWait => "sync.WaitGroup.Wait",
            WaitReason::Sleep => "sleep",
            WaitReason::JoinHandle => "join",
            WaitReason::Semacquire => "semacquire",
            WaitReason::SyncMutexLock => "sync.Mutex.Lock",
            WaitReason::IOWait => "IO wait",
            WaitReason::SyncRWMutexRLock => "sync.RWMutex.RLock",
            WaitReason::SyncRWMutexLock => "sync.RWMutex.Lock",
            WaitReason::SyncCondWait => "sync.Cond.Wait",
        }
    }

    /// Whether a G parked for this reason can only be woken by another G
    /// or a timer of the same runtime (used by deadlock detection).
    pub(crate) fn is_goro_primitive(self) -> bool {
        // IO wait: the network wakes it (Go counts such Gs as alive).
        !matches!(self, WaitReason::None | WaitReason::IOWait)
    }

    pub(crate) fn to_u8(self) -> u8 {
        self as u8
    }

    pub(crate) fn from_u8(v: u8) -> Self {
        const ALL: [WaitReason; 16] = [
            WaitReason::None,
            WaitReason::ChanReceive,
            WaitReason::ChanSend,
            WaitReason::ChanReceiveNilChan,
            WaitReason::ChanSendNilChan,
            WaitReason::Select,
            WaitReason::SelectNoCases,
            WaitReason::WaitGroupWait,
            WaitReason::Sleep,
            WaitReason::JoinHandle,
            WaitReason::Semacquire,
            WaitReason::SyncMutexLock,
            WaitReason::IOWait,
            WaitReason::SyncRWMutexRLock,
            WaitReason::SyncRWMutexLock,
            WaitReason::SyncCondWait,
        ];
        ALL.get(v as usize).copied().unwrap_or(WaitReason::None)
    }
}

impl std::fmt::Display for WaitReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::WaitReason;

    /// `from_u8` inverts `to_u8` for every variant: the table lists them in
    /// declaration order (a variant added out of order shifts the others).
    #[test]
    fn from_u8_inverts_to_u8() {
        for v in 0..=u8::MAX {
            let r = WaitReason::from_u8(v);
            if r != WaitReason::None {
                assert_eq!(r.to_u8(), v, "{r:?}");
            }
        }
        assert_eq!(
            WaitReason::from_u8(WaitReason::SyncCondWait.to_u8()),
            WaitReason::SyncCondWait
        );
        assert_eq!(
            WaitReason::from_u8(WaitReason::IOWait.to_u8()),
            WaitReason::IOWait
        );
    }
}
