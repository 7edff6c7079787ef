//! Lines from a stream another machine writes, each held to a bound: a host that sends a line
//! without end cannot make this side hold it all.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// One line read by [`next`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Line {
    /// Its first bytes (at most the bound), without the newline.
    pub bytes: Vec<u8>,
    /// Whether the line was longer than the bound (the rest was read and dropped).
    pub cut: bool,
}

/// Reads the next line, keeping at most `max` bytes of it; `None` at the end of the stream. A last
/// line without a newline is a line.
pub(crate) async fn next<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> std::io::Result<Option<Line>> {
    let mut bytes = Vec::new();
    let mut cut = false;
    let mut any = false;
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok(any.then_some(Line { bytes, cut }));
        }
        any = true;
        let (chunk, used, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], i + 1, true),
            None => (buf, buf.len(), false),
        };
        let room = max.saturating_sub(bytes.len());
        if chunk.len() > room {
            cut = true;
        }
        bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
        reader.consume(used);
        if done {
            return Ok(Some(Line { bytes, cut }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn all(input: &[u8], max: usize, cap: usize) -> Vec<Line> {
        // A small buffer, so lines cross buffer boundaries.
        let mut r = tokio::io::BufReader::with_capacity(cap, input);
        let mut out = Vec::new();
        while let Some(l) = next(&mut r, max).await.unwrap() {
            out.push(l);
        }
        out
    }

    fn line(s: &str, cut: bool) -> Line {
        Line {
            bytes: s.as_bytes().to_vec(),
            cut,
        }
    }

    #[tokio::test]
    async fn long_lines_are_cut_and_the_next_line_is_whole() {
        for cap in [1, 3, 64] {
            assert_eq!(
                all(b"ab\nabcdefgh\nxyz\n\nlast", 4, cap).await,
                vec![
                    line("ab", false),
                    line("abcd", true),
                    line("xyz", false),
                    line("", false),
                    line("last", false),
                ],
                "buffer of {cap}"
            );
        }
        assert_eq!(all(b"", 4, 8).await, vec![]);
        assert_eq!(all(b"abcd\n", 4, 2).await, vec![line("abcd", false)]);
    }
}
