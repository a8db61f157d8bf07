//! A small slab: a `Vec` of slots with an intrusive free list, giving O(1)
//! insert and O(1) remove by index.
//!
//! Used for the after-func entries of the context cancel tree (an entry
//! remembers its index, so leaving its parent's set is O(1), like deleting
//! from Go's `map[canceler]struct{}`). Not concurrent: every slab lives
//! behind its owner's lock. (The sync primitives' waiter lists are the
//! sema wait queue now; this file stays until it moves to a util module.)

/// One slot: a value, or a link in the free list.
#[derive(Debug)]
enum Entry<T> {
    Occupied(T),
    /// Index of the next vacant slot (`usize::MAX` ends the list).
    Vacant(usize),
}

/// A slab of `T` addressed by `usize` indices.
#[derive(Debug)]
pub(crate) struct Slab<T> {
    entries: Vec<Entry<T>>,
    /// Head of the free list (`usize::MAX` when empty).
    free: usize,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Slab<T> {
    /// An empty slab; allocates nothing.
    pub(crate) const fn new() -> Self {
        Slab {
            entries: Vec::new(),
            free: usize::MAX,
            len: 0,
        }
    }

    /// Number of occupied slots.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// True when no slot is occupied.
    #[allow(dead_code)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Stores `v` and returns its index (reusing a vacant slot first).
    pub(crate) fn insert(&mut self, v: T) -> usize {
        self.len += 1;
        if self.free != usize::MAX {
            let idx = self.free;
            match std::mem::replace(&mut self.entries[idx], Entry::Occupied(v)) {
                Entry::Vacant(next) => self.free = next,
                Entry::Occupied(_) => unreachable!("slab free list points at an occupied slot"),
            }
            idx
        } else {
            self.entries.push(Entry::Occupied(v));
            self.entries.len() - 1
        }
    }

    /// Removes and returns the value at `idx`, if that slot is occupied.
    pub(crate) fn remove(&mut self, idx: usize) -> Option<T> {
        let slot = self.entries.get_mut(idx)?;
        if matches!(slot, Entry::Vacant(_)) {
            return None;
        }
        let old = std::mem::replace(slot, Entry::Vacant(self.free));
        self.free = idx;
        self.len -= 1;
        if self.len == 0 {
            // Everything left is vacant: drop the storage's contents so a
            // slab that was large once goes back to a clean free list.
            if self.entries.capacity() > 64 {
                self.entries = Vec::new();
            } else {
                self.entries.clear();
            }
            self.free = usize::MAX;
        }
        match old {
            Entry::Occupied(v) => Some(v),
            Entry::Vacant(_) => None,
        }
    }

    /// The value at `idx`, if occupied.
    pub(crate) fn get(&self, idx: usize) -> Option<&T> {
        match self.entries.get(idx)? {
            Entry::Occupied(v) => Some(v),
            Entry::Vacant(_) => None,
        }
    }

    /// Takes every value out, in index order, leaving the slab empty.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = T> {
        self.free = usize::MAX;
        self.len = 0;
        std::mem::take(&mut self.entries)
            .into_iter()
            .filter_map(|e| match e {
                Entry::Occupied(v) => Some(v),
                Entry::Vacant(_) => None,
            })
    }

    /// Capacity of the backing storage (tests check that it shrinks back).
    pub(crate) fn capacity(&self) -> usize {
        self.entries.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::Slab;

    #[test]
    fn insert_remove_reuse() {
        let mut s = Slab::new();
        let a = s.insert(1);
        let b = s.insert(2);
        let c = s.insert(3);
        assert_eq!((a, b, c), (0, 1, 2));
        assert_eq!(s.remove(b), Some(2));
        assert_eq!(s.remove(b), None);
        assert_eq!(s.len(), 2);
        assert_eq!(s.insert(4), b);
        assert_eq!(s.get(b), Some(&4));
        let all: Vec<_> = s.drain().collect();
        assert_eq!(all, vec![1, 4, 3]);
        assert!(s.is_empty());
        assert_eq!(s.insert(5), 0);
    }

    #[test]
    fn empties_fully() {
        let mut s = Slab::new();
        let ids: Vec<_> = (0..100).map(|i| s.insert(i)).collect();
        for i in ids {
            s.remove(i);
        }
        assert!(s.is_empty());
        assert_eq!(s.insert(7), 0);
        assert_eq!(s.remove(1000), None);
    }
}
