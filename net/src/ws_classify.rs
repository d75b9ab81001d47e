//! Classifying what a client sends on a WebSocket, to tell a person's input from a
//! program's chatter. [`Classifier`] reads the client-to-server byte stream in
//! arbitrary pieces: RFC 6455 frames (unmasking payloads), and inside the data
//! messages VS Code's remote protocol (`src/vs/base/parts/ipc/common/ipc.net.ts`):
//! a 13-byte header — type `u8`, id `u32`, ack `u32`, data length `u32`, big-endian
//! — then the data; several protocol messages may share one WebSocket message.
//!
//! What counts as input ([`Message::counts`]):
//! - never: VS Code's KeepAlive (sent every 5 s by an open tab), Ack, Control (the
//!   auth handshake of every reconnect), Disconnect, ReplayRequest, Pause, Resume,
//!   latency probes, nor its Regular messages — they carry the IDE's own RPC (file
//!   watchers, extension host calls, messages replayed after a reconnect) as well as
//!   edits, and nothing in them tells the two apart; a person's keys, pointer and
//!   focus reach the clock from the page script (`POST /_dcs/activity`) instead;
//! - never: pings, pongs, close frames, and compressed (`permessage-deflate`)
//!   messages, whose content cannot be read without inflating;
//! - yes: data messages of any other protocol (an app of the user's, previewed).
//!
//! A stream that does not parse as VS Code's protocol from its first byte is "other"
//! for good. Nothing is buffered but a frame or protocol header.

/// VS Code's protocol message types (`ProtocolMessageType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VsCode {
    /// 1: an RPC message (counted and acknowledged by the protocol).
    Regular,
    /// 2: a control message (the auth handshake, …).
    Control,
    /// 3: an acknowledgement.
    Ack,
    /// 5: the other side goes away.
    Disconnect,
    /// 6: asks to replay unacknowledged messages after a reconnect.
    ReplayRequest,
    /// 7: pause writing.
    Pause,
    /// 8: resume writing.
    Resume,
    /// 9: sent every 5 s by an open connection.
    KeepAlive,
    /// 10: latency probe.
    LatencyRequest,
    /// 11: latency answer.
    LatencyResponse,
}

impl VsCode {
    fn from_type(t: u8) -> Option<Self> {
        Some(match t {
            1 => Self::Regular,
            2 => Self::Control,
            3 => Self::Ack,
            5 => Self::Disconnect,
            6 => Self::ReplayRequest,
            7 => Self::Pause,
            8 => Self::Resume,
            9 => Self::KeepAlive,
            10 => Self::LatencyRequest,
            11 => Self::LatencyResponse,
            _ => return None,
        })
    }
}

/// One thing a client sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    /// A VS Code protocol message.
    VsCode(VsCode),
    /// A ping, pong or close frame.
    Control,
    /// A data message that cannot be read: compressed, or on a VS Code stream that
    /// lost its way.
    Unreadable,
    /// A data message of another protocol.
    Other,
}

impl Message {
    /// Whether it is a person's input (see the module doc).
    pub fn counts(self) -> bool {
        matches!(self, Message::Other)
    }
}

/// The largest VS Code message accepted as plausible (its reader has no bound; a
/// bigger length means the stream is not VS Code's protocol).
const MAX_VSCODE_DATA: u32 = 256 * 1024 * 1024;

/// What the payload stream is, as far as known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// Nothing read yet.
    Unknown,
    /// VS Code's remote protocol.
    VsCode,
    /// Anything else.
    Other,
    /// VS Code's, but a header made no sense: nothing more is read or counted.
    Lost,
}

/// A streaming classifier of one connection's client-to-server bytes.
#[derive(Debug, Clone)]
pub struct Classifier {
    /// The frame header being read.
    header: [u8; 14],
    have: usize,
    /// Payload bytes left in the current frame, its mask and the offset in it.
    left: u64,
    mask: Option<[u8; 4]>,
    offset: usize,
    /// Whether the current frame carries (uncompressed) data to read.
    reading: bool,
    /// Whether the message the current frame belongs to is compressed.
    compressed: bool,
    protocol: Protocol,
    /// The VS Code header being read, and data bytes left to skip.
    vs_header: [u8; 13],
    vs_have: usize,
    vs_skip: u64,
}

impl Default for Classifier {
    fn default() -> Self {
        Self {
            header: [0; 14],
            have: 0,
            left: 0,
            mask: None,
            offset: 0,
            reading: false,
            compressed: false,
            protocol: Protocol::Unknown,
            vs_header: [0; 13],
            vs_have: 0,
            vs_skip: 0,
        }
    }
}

impl Classifier {
    /// Feeds the next bytes; `seen` gets every message that starts in them.
    pub fn feed(&mut self, mut buf: &[u8], seen: &mut impl FnMut(Message)) {
        while !buf.is_empty() {
            if self.left > 0 {
                let n = usize::try_from(self.left)
                    .unwrap_or(usize::MAX)
                    .min(buf.len());
                if self.reading {
                    self.payload(&buf[..n], seen);
                }
                self.left -= n as u64;
                buf = &buf[n..];
                continue;
            }
            let need = self.header_len();
            let take = (need - self.have).min(buf.len());
            self.header[self.have..self.have + take].copy_from_slice(&buf[..take]);
            self.have += take;
            buf = &buf[take..];
            if self.have == self.header_len() {
                self.frame_started(seen);
            }
        }
    }

    /// Header length implied by what has been read so far.
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

    fn frame_started(&mut self, seen: &mut impl FnMut(Message)) {
        let (b0, b1) = (self.header[0], self.header[1]);
        let opcode = b0 & 0x0f;
        let (len, at) = match b1 & 0x7f {
            126 => (
                u64::from(u16::from_be_bytes([self.header[2], self.header[3]])),
                4,
            ),
            127 => {
                let mut be = [0u8; 8];
                be.copy_from_slice(&self.header[2..10]);
                (u64::from_be_bytes(be), 10)
            }
            n => (u64::from(n), 2),
        };
        self.mask = (b1 & 0x80 != 0).then(|| {
            let mut m = [0u8; 4];
            m.copy_from_slice(&self.header[at..at + 4]);
            m
        });
        self.have = 0;
        self.left = len;
        self.offset = 0;
        self.reading = false;
        match opcode {
            // Ping, pong, close.
            0x8..=0xf => seen(Message::Control),
            // The first frame of a text or binary message.
            0x1 | 0x2 => {
                self.compressed = b0 & 0x40 != 0;
                if self.compressed {
                    seen(Message::Unreadable);
                } else if self.protocol == Protocol::Other {
                    seen(Message::Other);
                } else if self.protocol == Protocol::Lost {
                    seen(Message::Unreadable);
                } else {
                    self.reading = true;
                }
            }
            // A continuation.
            _ => {
                self.reading = !self.compressed
                    && matches!(self.protocol, Protocol::Unknown | Protocol::VsCode);
            }
        }
        if self.reading && len == 0 && self.protocol == Protocol::Unknown {
            // An empty first message is nobody's protocol header.
            self.protocol = Protocol::Other;
            seen(Message::Other);
        }
    }

    /// Reads (unmasked) payload bytes as VS Code's protocol stream.
    fn payload(&mut self, bytes: &[u8], seen: &mut impl FnMut(Message)) {
        let mut i = 0;
        while i < bytes.len() && self.reading {
            if self.vs_skip > 0 {
                let n = usize::try_from(self.vs_skip)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len() - i);
                self.vs_skip -= n as u64;
                self.offset += n;
                i += n;
                continue;
            }
            let byte = match self.mask {
                Some(m) => bytes[i] ^ m[self.offset % 4],
                None => bytes[i],
            };
            self.offset += 1;
            i += 1;
            self.vs_header[self.vs_have] = byte;
            self.vs_have += 1;
            if self.vs_have == 1 && VsCode::from_type(byte).is_none() {
                self.not_vscode(seen);
            } else if self.vs_have == self.vs_header.len() {
                self.vs_have = 0;
                let kind = VsCode::from_type(self.vs_header[0]);
                let mut len = [0u8; 4];
                len.copy_from_slice(&self.vs_header[9..13]);
                let len = u32::from_be_bytes(len);
                match kind {
                    Some(kind) if len <= MAX_VSCODE_DATA => {
                        self.protocol = Protocol::VsCode;
                        self.vs_skip = u64::from(len);
                        seen(Message::VsCode(kind));
                    }
                    _ => self.not_vscode(seen),
                }
            }
        }
    }

    /// A header that is not VS Code's: a stream that never was VS Code's is "other"
    /// from now on (this message included); one that was is lost (never counted).
    fn not_vscode(&mut self, seen: &mut impl FnMut(Message)) {
        self.reading = false;
        if self.protocol == Protocol::VsCode {
            self.protocol = Protocol::Lost;
            seen(Message::Unreadable);
        } else {
            self.protocol = Protocol::Other;
            seen(Message::Other);
        }
    }
}
