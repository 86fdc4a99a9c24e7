//! Hex input for the packet inspector: one datagram per non-empty line.

/// A hex input error, with where it happened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HexError {
    /// A character that is not a hex digit, space, colon or comment.
    #[error("line {line}, column {column}: {ch:?} is not a hex digit")]
    BadChar {
        /// 1-based line.
        line: usize,
        /// 1-based column (in characters).
        column: usize,
        /// The offending character.
        ch: char,
    },
    /// An odd number of hex digits on a line.
    #[error("line {line}: odd number of hex digits ({digits})")]
    OddLength {
        /// 1-based line.
        line: usize,
        /// Digits on the line.
        digits: usize,
    },
}

/// Parses the text into datagrams. Spaces, tabs, colons and a leading `0x`
/// are ignored; `#` starts a comment that runs to the end of the line.
pub fn parse_lines(text: &str) -> Result<Vec<Vec<u8>>, HexError> {
    let mut out = Vec::new();
    for (ln, line) in text.lines().enumerate() {
        let line_no = ln + 1;
        let content = line.split('#').next().unwrap_or("");
        let content = content.trim();
        let content = content.strip_prefix("0x").unwrap_or(content);
        let mut digits = Vec::with_capacity(content.len());
        for (col, ch) in content.chars().enumerate() {
            match ch {
                ' ' | '\t' | ':' => {}
                c => match c.to_digit(16) {
                    Some(d) => digits.push(d as u8),
                    None => {
                        // Column within the original line.
                        let offset = line.find(content).unwrap_or(0);
                        let column = line[..offset].chars().count() + col + 1;
                        return Err(HexError::BadChar {
                            line: line_no,
                            column,
                            ch: c,
                        });
                    }
                },
            }
        }
        if digits.is_empty() {
            continue;
        }
        if digits.len() % 2 != 0 {
            return Err(HexError::OddLength {
                line: line_no,
                digits: digits.len(),
            });
        }
        out.push(digits.chunks_exact(2).map(|p| (p[0] << 4) | p[1]).collect());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_comments_and_separators() {
        let d = parse_lines("# capture\n00 01:ff\n\n0xAbcd # tail\n").unwrap();
        assert_eq!(d, vec![vec![0x00, 0x01, 0xff], vec![0xab, 0xcd]]);
    }

    #[test]
    fn errors_name_the_place() {
        assert_eq!(
            parse_lines("0011\n  00zz").unwrap_err(),
            HexError::BadChar {
                line: 2,
                column: 5,
                ch: 'z'
            }
        );
        assert_eq!(
            parse_lines("abc").unwrap_err(),
            HexError::OddLength { line: 1, digits: 3 }
        );
    }
}
