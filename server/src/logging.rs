//! The text log: one event per line, whatever a field holds. A login, a service name or a
//! provider's message can carry line breaks or terminal escapes; written raw they would forge
//! log lines or recolour a terminal. Every event's control characters are escaped before it is
//! written (the JSON format escapes by construction).

use std::io::{self, Write};
use tracing_subscriber::fmt::MakeWriter;

/// Wraps a writer maker so each event's control characters (except its final newline and tabs)
/// come out as `\n`, `\r`, `\x1b`…
#[derive(Clone, Debug, Default)]
pub struct Escaped<M>(pub M);

pub struct EscapingWriter<W>(W);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Escaped<M> {
    type Writer = EscapingWriter<M::Writer>;
    fn make_writer(&'a self) -> Self::Writer {
        EscapingWriter(self.0.make_writer())
    }
}

/// `buf` with control characters escaped; a trailing newline is kept as the event's end.
pub fn escape_event(buf: &[u8]) -> Vec<u8> {
    let (body, end): (&[u8], &[u8]) = match buf.split_last() {
        Some((b'\n', body)) => (body, b"\n"),
        _ => (buf, b""),
    };
    let mut out = Vec::with_capacity(buf.len() + 8);
    for &b in body {
        match b {
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.push(b),
            b if b < 0x20 || b == 0x7f => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
            b => out.push(b),
        }
    }
    out.extend_from_slice(end);
    out
}

impl<W: Write> Write for EscapingWriter<W> {
    // The fmt layer writes each event whole, in one call.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all(&escape_event(buf))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_stays_one_line() {
        let forged =
            b"INFO signed in login=eve\n2026-12-02T00:00:00Z INFO signed in login=sre\x1b[31m\n";
        assert_eq!(
            String::from_utf8(escape_event(forged)).unwrap(),
            "INFO signed in login=eve\\n2026-12-02T00:00:00Z INFO signed in login=sre\\x1b[31m\n"
        );
        assert_eq!(escape_event(b"plain\tline\n"), b"plain\tline\n");
    }
}
