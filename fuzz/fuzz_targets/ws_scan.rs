//! `FrameScanner::feed` on any byte stream cut into arbitrary chunks: never panics,
//! and the frame count does not depend on how the stream is cut.
#![no_main]

use dcs_proxy::forward::ws_scan::FrameScanner;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Vec<u8>, &[u8])| {
    let (cuts, stream) = input;
    let whole = FrameScanner::default().feed(stream);

    let mut scanner = FrameScanner::default();
    let mut rest = stream;
    let mut counted = 0;
    for cut in cuts {
        let n = usize::from(cut).min(rest.len());
        let (head, tail) = rest.split_at(n);
        counted += scanner.feed(head);
        rest = tail;
    }
    counted += scanner.feed(rest);
    assert_eq!(counted, whole, "chunking changed the frame count");
});
