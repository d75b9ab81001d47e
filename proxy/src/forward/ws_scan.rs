//! A streaming scanner of client-to-server WebSocket frames (RFC 6455 §5.2) that
//! counts data frames (text, binary, continuation) and ignores control frames
//! (ping, pong, close). It reads only frame headers and skips payloads, so it costs
//! nothing per byte of payload and never buffers. Fuzzed: any byte stream is fine.

/// Counts data frames in a byte stream fed in arbitrary pieces.
#[derive(Debug, Default, Clone)]
pub struct FrameScanner {
    header: [u8; 14],
    have: usize,
    skip: u64,
}

impl FrameScanner {
    /// Feeds the next bytes; returns how many data frames started in them.
    pub fn feed(&mut self, mut buf: &[u8]) -> usize {
        let mut frames = 0;
        while !buf.is_empty() {
            if self.skip > 0 {
                let n = usize::try_from(self.skip)
                    .unwrap_or(usize::MAX)
                    .min(buf.len());
                self.skip -= n as u64;
                buf = &buf[n..];
                continue;
            }
            let need = self.header_len();
            let take = (need - self.have).min(buf.len());
            self.header[self.have..self.have + take].copy_from_slice(&buf[..take]);
            self.have += take;
            buf = &buf[take..];
            if self.have == self.header_len() {
                let opcode = self.header[0] & 0x0f;
                if matches!(opcode, 0x0..=0x2) {
                    frames += 1;
                }
                self.skip = self.payload_len();
                self.have = 0;
            }
        }
        frames
    }

    /// Header length implied by what has been read so far (2 until byte 2 is known).
    fn header_len(&self) -> usize {
        if self.have < 2 {
            return 2;
        }
        let ext = match self.header[1] & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let mask = if self.header[1] & 0x80 != 0 { 4 } else { 0 };
        2 + ext + mask
    }

    fn payload_len(&self) -> u64 {
        match self.header[1] & 0x7f {
            126 => u64::from(u16::from_be_bytes([self.header[2], self.header[3]])),
            127 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&self.header[2..10]);
                u64::from_be_bytes(b)
            }
            n => u64::from(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A masked client frame.
    fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => f.push(0x80 | n as u8),
            n if n <= 0xffff => {
                f.push(0x80 | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(0x80 | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        f.extend_from_slice(&[1, 2, 3, 4]);
        f.extend(payload.iter().map(|b| b ^ 0x55));
        f
    }

    #[test]
    fn counts_data_frames_and_ignores_control_frames() {
        let mut stream = Vec::new();
        stream.extend(frame(0x1, b"hello"));
        stream.extend(frame(0x9, b"ping"));
        stream.extend(frame(0x2, &vec![7; 300]));
        stream.extend(frame(0xA, b""));
        stream.extend(frame(0x2, &vec![7; 70_000]));
        stream.extend(frame(0x8, b""));
        assert_eq!(FrameScanner::default().feed(&stream), 3);
        // Byte by byte gives the same answer.
        let mut s = FrameScanner::default();
        assert_eq!(
            stream
                .iter()
                .map(|b| s.feed(std::slice::from_ref(b)))
                .sum::<usize>(),
            3
        );
    }

    #[test]
    fn pings_alone_are_not_activity() {
        let pings: Vec<u8> = (0..10).flat_map(|_| frame(0x9, b"x")).collect();
        assert_eq!(FrameScanner::default().feed(&pings), 0);
    }

    #[test]
    fn garbage_never_panics() {
        let mut s = FrameScanner::default();
        let junk: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        s.feed(&junk);
        s.feed(&[0xff; 14]);
        s.feed(&[0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    }
}
