//! A global allocator that counts the live heap (bytes asked for and blocks) around mimalloc,
//! for the memory probes: a thread prints the counts and the process's RSS every half second.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

pub struct Counting<A>(pub A);

pub static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
pub static LIVE_BLOCKS: AtomicIsize = AtomicIsize::new(0);

unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Relaxed);
        LIVE_BLOCKS.fetch_add(1, Relaxed);
        self.0.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Relaxed);
        LIVE_BLOCKS.fetch_add(1, Relaxed);
        self.0.alloc_zeroed(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Relaxed);
        LIVE_BLOCKS.fetch_sub(1, Relaxed);
        self.0.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        self.0.realloc(ptr, layout, new_size)
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Prints `probe: live_kib blocks rss_kib` to stderr every half second while they change.
pub fn report() {
    std::thread::spawn(|| {
        let mut last = (0, 0, 0);
        loop {
            let now = (
                LIVE_BYTES.load(Relaxed) / 1024,
                LIVE_BLOCKS.load(Relaxed),
                rss_kib() as isize,
            );
            if now != last {
                eprintln!(
                    "probe: live_kib {} blocks {} rss_kib {}",
                    now.0, now.1, now.2
                );
                last = now;
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
    });
}
