//! Which pages of a [`GuestMemory`] are mapped, followed cheaply between runs (for engines
//! that keep their own copy of the guest's memory).

use crate::memory::GuestMemory;

/// The list of mapped pages of a [`GuestMemory`], kept up to date cheaply.
///
/// GuestMemory only answers `is_mapped` and a count, so changes are found from the count:
/// the kernel maps and unmaps only by moving the break or growing the stack, which
/// extends or trims the existing runs of pages; anything else falls back to probing all
/// 2^20 pages.
#[derive(Debug, Clone, Default)]
pub struct MappedPages {
    /// Page numbers (address >> 12), ascending.
    pages: Vec<u32>,
}

/// Pages that appeared and disappeared since the last [`MappedPages::update`].
#[derive(Debug, Default)]
pub struct PageChanges {
    pub added: Vec<u32>,
    pub removed: Vec<u32>,
}

impl MappedPages {
    /// Every mapped page of `mem`, by probing.
    pub fn scan(mem: &GuestMemory) -> MappedPages {
        MappedPages {
            pages: (0..1u32 << 20)
                .filter(|&p| mem.is_mapped(p << 12))
                .collect(),
        }
    }

    /// Page numbers, ascending.
    pub fn pages(&self) -> &[u32] {
        &self.pages
    }

    /// Brings the list up to date with `mem` and says what changed.
    pub fn update(&mut self, mem: &GuestMemory) -> PageChanges {
        let mut ch = PageChanges::default();
        if mem.mapped_pages() == self.pages.len() {
            return ch;
        }
        ch.removed = self
            .pages
            .iter()
            .copied()
            .filter(|&p| !mem.is_mapped(p << 12))
            .collect();
        self.pages.retain(|&p| mem.is_mapped(p << 12));
        let mapped = |p: u32| p < 1 << 20 && mem.is_mapped(p << 12);
        let mut added = Vec::new();
        for run in self.pages.chunk_by(|a, b| b.wrapping_sub(*a) == 1) {
            // Runs are disjoint and ascending: growth between two of them stops at the
            // next run's first page, and duplicates are removed below.
            let mut p = run[run.len() - 1] + 1;
            while mapped(p) && self.pages.binary_search(&p).is_err() {
                added.push(p);
                p += 1;
            }
            let mut p = run[0];
            while p > 0 && mapped(p - 1) && self.pages.binary_search(&(p - 1)).is_err() {
                p -= 1;
                added.push(p);
            }
        }
        self.pages.extend(&added);
        self.pages.sort_unstable();
        self.pages.dedup();
        if self.pages.len() != mem.mapped_pages() {
            let full = MappedPages::scan(mem);
            added.extend(
                full.pages
                    .iter()
                    .filter(|p| self.pages.binary_search(p).is_err()),
            );
            self.pages = full.pages;
        }
        added.sort_unstable();
        added.dedup();
        ch.added = added;
        ch
    }
}
