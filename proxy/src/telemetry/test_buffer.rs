//! [`Buffer`]: a log writer for tests, holding everything written to it, each write
//! as a piece of its own (so a test can see how output was cut, as the batches are).

use std::sync::{Arc, Mutex};

/// Shared bytes a subscriber writes into (clone it into the `MakeWriter` closure).
#[derive(Clone, Default)]
pub struct Buffer(Arc<Mutex<Vec<Vec<u8>>>>);

impl Buffer {
    /// What was written so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8(self.writes().concat()).expect("utf8")
    }

    /// Each write so far, as it was made.
    pub fn writes(&self) -> Vec<Vec<u8>> {
        self.0.lock().expect("lock").clone()
    }
}

impl std::io::Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").push(buf.to_vec());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
