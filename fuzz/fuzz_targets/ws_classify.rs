//! `dcs_net::ws_classify::Classifier::feed` on any client byte stream cut into
//! arbitrary pieces: never panics, and the messages it reports (and so what counts
//! as a person's input) do not depend on how the stream is cut.
#![no_main]

use dcs_net::ws_classify::{Classifier, Message};
use libfuzzer_sys::fuzz_target;

fn messages(pieces: &[&[u8]]) -> Vec<Message> {
    let mut classifier = Classifier::default();
    let mut seen = Vec::new();
    for piece in pieces {
        classifier.feed(piece, &mut |m| seen.push(m));
    }
    seen
}

fuzz_target!(|input: (Vec<u8>, &[u8])| {
    let (cuts, stream) = input;
    let whole = messages(&[stream]);
    let mut pieces = Vec::new();
    let mut rest = stream;
    for cut in cuts {
        let n = usize::from(cut).min(rest.len());
        let (head, tail) = rest.split_at(n);
        pieces.push(head);
        rest = tail;
    }
    pieces.push(rest);
    assert_eq!(messages(&pieces), whole, "cutting the stream changed the messages");
});
