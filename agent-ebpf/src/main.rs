//! The probes. Built for `bpfel-unknown-none` by `agent/build.rs` (aya-build).
//! The probes themselves arrive with the eBPF source issue.
#![no_std]
#![no_main]

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}
