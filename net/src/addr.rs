//! Addresses as text, exactly as their `Display` writes them, without the formatting
//! machinery for IPv4 (its `Display` pads each octet through `core::fmt`): the proxy
//! writes its peer's address into every forwarded request and every access-log line.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// `ip` as `ip.to_string()` writes it.
pub fn ip_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => V4Text::of(v4).as_str().to_owned(),
        IpAddr::V6(v6) => v6.to_string(),
    }
}

/// An IPv4 address as its `Display` writes it (`10.0.0.1`), written on the stack:
/// digits straight into a buffer, no `core::fmt` and no `String` growing a piece at
/// a time. Its text is the one spelling [`Ipv4Addr`]'s parser accepts (no leading
/// zeros), so comparing a text with it is comparing the address.
#[derive(Clone, Copy)]
pub struct V4Text {
    buf: [u8; 15],
    len: u8,
}

impl V4Text {
    /// The text of `v4`.
    pub fn of(v4: Ipv4Addr) -> Self {
        let mut text = Self {
            buf: [0; 15],
            len: 0,
        };
        for (i, octet) in v4.octets().into_iter().enumerate() {
            if i > 0 {
                text.push(b'.');
            }
            if octet >= 100 {
                text.push(b'0' + octet / 100);
            }
            if octet >= 10 {
                text.push(b'0' + octet / 10 % 10);
            }
            text.push(b'0' + octet % 10);
        }
        text
    }

    fn push(&mut self, b: u8) {
        // At most 4 × 3 digits and 3 dots: 15 bytes.
        if let Some(slot) = self.buf.get_mut(usize::from(self.len)) {
            *slot = b;
            self.len += 1;
        }
    }

    /// The text's bytes (ASCII digits and dots).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits and dots were written.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

/// A socket address that displays as its own `Display` does (`1.2.3.4:80`,
/// `[::1]:80`), cheaply for IPv4: for log fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shown(pub SocketAddr);

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            SocketAddr::V4(_) => {
                let mut text = String::with_capacity(21);
                push_addr(&mut text, self.0);
                f.pad(&text)
            }
            SocketAddr::V6(v6) => fmt::Display::fmt(&v6, f),
        }
    }
}

/// Appends `addr` to `text` as its `Display` writes it (IPv4 without `core::fmt`).
pub fn push_addr(text: &mut String, addr: SocketAddr) {
    match addr {
        SocketAddr::V4(v4) => {
            push_v4(text, *v4.ip());
            text.push(':');
            push_decimal(text, u32::from(v4.port()));
        }
        SocketAddr::V6(v6) => {
            use fmt::Write as _;
            // Writing into a `String` does not fail.
            let _ = write!(text, "{v6}");
        }
    }
}

fn push_v4(text: &mut String, v4: Ipv4Addr) {
    text.push_str(V4Text::of(v4).as_str());
}

fn push_decimal(text: &mut String, n: u32) {
    text.push_str(itoa::Buffer::new().format(n));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_what_display_writes() {
        let mut ips: Vec<IpAddr> = (0..=255u8)
            .map(|o| IpAddr::V4(Ipv4Addr::new(o, 255 - o, o / 7, o.wrapping_mul(31))))
            .collect();
        ips.extend(
            [
                "0.0.0.0",
                "255.255.255.255",
                "10.0.0.1",
                "::1",
                "::ffff:1.2.3.4",
                "fe80::1:2",
            ]
            .map(|s| s.parse::<IpAddr>().expect("ip")),
        );
        for ip in ips {
            assert_eq!(ip_text(ip), ip.to_string());
            if let IpAddr::V4(v4) = ip {
                let text = V4Text::of(v4);
                assert_eq!(text.as_str().parse::<Ipv4Addr>(), Ok(v4));
                assert_eq!(text.as_bytes(), text.as_str().as_bytes());
            }
            for port in [0, 7, 80, 8080, 65535] {
                let addr = SocketAddr::new(ip, port);
                assert_eq!(Shown(addr).to_string(), addr.to_string());
                let mut pushed = String::from("x");
                push_addr(&mut pushed, addr);
                assert_eq!(pushed, format!("x{addr}"));
            }
        }
    }
}
