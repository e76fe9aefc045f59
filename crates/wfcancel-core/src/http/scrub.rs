//! Masking a token that a server echoes back, in whatever form it echoes it.
//!
//! A server or a proxy in front of it may put the `Authorization` header it received into an
//! answer: raw (`Bearer tok/abc+x=`), JSON-escaped (`tok\/abc+x=`, `tok\u002fabc\u002Bx=`), or
//! percent-encoded (`tok%2Fabc%2Bx%3D`, `+` for a space), or any mix of these, character by
//! character. [`Scrubber`] finds every such spelling of the token in a byte string and replaces
//! it with `***`, for tokens of any length. Matching works on whole escape sequences, so a
//! scrubbed JSON body stays JSON.

/// Tokens shorter than this (in characters) are masked only where they stand alone.
pub(crate) const WHOLE_WORD_BELOW: usize = 8;

/// What a found token is replaced with.
pub(crate) const MASK: &str = "***";

/// How many matching steps one start position may take, beyond four per token character,
/// before matching gives up there (the token is ours, the body is the server's: a body cannot
/// make matching slow, even for a token full of `\` or `%`, which have two readings).
const STEP_BUDGET: u32 = 64;

/// Finds and masks one token in every encoding a server may echo it in.
#[derive(Clone)]
pub(crate) struct Scrubber {
    token: Box<[char]>,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scrubber(***)")
    }
}

impl Scrubber {
    /// A scrubber for `token`; `None` for an empty token (nothing to find).
    pub(crate) fn new(token: &str) -> Option<Self> {
        (!token.is_empty()).then(|| Scrubber {
            token: token.chars().collect(),
        })
    }

    /// `bytes` with every spelling of the token replaced by `***`, or `None` when there is none.
    pub(crate) fn scrub_bytes(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        let mut out: Option<Vec<u8>> = None;
        let mut copied = 0;
        let mut i = 0;
        while i < bytes.len() {
            let mut budget = self.budget();
            match self.match_at(bytes, i, 0, &mut budget) {
                Some(end) if end > i && self.stands_alone(bytes, i, end) => {
                    let o = out.get_or_insert_with(|| Vec::with_capacity(bytes.len()));
                    o.extend_from_slice(&bytes[copied..i]);
                    o.extend_from_slice(MASK.as_bytes());
                    copied = end;
                    i = end;
                }
                _ => i += 1,
            }
        }
        let mut out = out?;
        out.extend_from_slice(&bytes[copied..]);
        Some(out)
    }

    /// Whether a match at `bytes[start..end]` is masked: always for a token of
    /// [`WHOLE_WORD_BELOW`] characters or more; a shorter one only where it stands alone (no
    /// letter, digit or `_` right before or after it), so that a short token such as `k` is
    /// masked in `Bearer k` but does not garble `Workflow not found`, which the backend must
    /// still be able to read.
    fn stands_alone(&self, bytes: &[u8], start: usize, end: usize) -> bool {
        if self.token.len() >= WHOLE_WORD_BELOW {
            return true;
        }
        let wordy = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
        !wordy(start.checked_sub(1).and_then(|p| bytes.get(p))) && !wordy(bytes.get(end))
    }

    fn budget(&self) -> u32 {
        u32::try_from(self.token.len())
            .unwrap_or(u32::MAX / 8)
            .saturating_mul(4)
            .saturating_add(STEP_BUDGET)
    }

    /// How many bytes at the end of `bytes` may be the start of a spelling of the token (0 when
    /// none): what to cut as well from a body cut at the size cap, so that no start of the token
    /// shows either.
    pub(crate) fn trailing_partial(&self, bytes: &[u8]) -> usize {
        // The longest spelling: 12 bytes a character (`\uD83D\uDE00`, `%F0%9F%98%80`).
        let window = self.token.len().saturating_mul(12).min(bytes.len());
        let from = bytes.len() - window;
        for p in from..bytes.len() {
            let mut budget = self.budget();
            if self.partial_at(bytes, p, 0, &mut budget) {
                return bytes.len() - p;
            }
        }
        0
    }

    /// Whether `bytes[p..]` (which ends the input) is a proper start of a spelling of
    /// `token[k..]`: the input runs out before the token does.
    fn partial_at(&self, bytes: &[u8], p: usize, k: usize, budget: &mut u32) -> bool {
        if k == self.token.len() || *budget == 0 {
            return false;
        }
        if p == bytes.len() {
            return k > 0;
        }
        *budget -= 1;
        let c = self.token[k];
        let rest = &bytes[p..];
        // The input ends inside a spelling of `c`.
        let mut utf8 = [0u8; 4];
        let enc = c.encode_utf8(&mut utf8).as_bytes();
        if cut_spelling(rest, c, enc) {
            return true;
        }
        spellings(bytes, p, c).any(|end| self.partial_at(bytes, end, k + 1, budget))
    }

    /// `text` with every spelling of the token replaced by `***`.
    pub(crate) fn scrub_str(&self, text: &str) -> String {
        match self.scrub_bytes(text.as_bytes()) {
            Some(b) => String::from_utf8_lossy(&b).into_owned(),
            None => text.to_owned(),
        }
    }

    /// Where a match of `token[k..]` starting at `bytes[p]` ends, if there is one.
    fn match_at(&self, bytes: &[u8], p: usize, k: usize, budget: &mut u32) -> Option<usize> {
        if k == self.token.len() {
            return Some(p);
        }
        if *budget == 0 {
            return None;
        }
        *budget -= 1;
        let c = self.token[k];
        // Every way `c` may be spelled at `p`; each is tried in turn (a token holding `\` or `%`
        // may need the other reading).
        for end in spellings(bytes, p, c) {
            if let Some(done) = self.match_at(bytes, end, k + 1, budget) {
                return Some(done);
            }
        }
        None
    }
}

/// The positions where a spelling of `c` that starts at `bytes[p]` can end (at most three).
fn spellings(bytes: &[u8], p: usize, c: char) -> impl Iterator<Item = usize> {
    let mut ends = [None; 3];
    let mut utf8 = [0u8; 4];
    let enc = c.encode_utf8(&mut utf8).as_bytes();
    // Raw, each byte possibly percent-encoded (`%2F`, `%2f`, `%C3%A9`, …).
    ends[0] = percent_or_raw(bytes, p, enc);
    // JSON escapes: `\/`, `\\`, `\"`, `\b` …, `\uXXXX` (a surrogate pair for other planes).
    ends[1] = json_escape(bytes, p).and_then(|(decoded, end)| (decoded == c).then_some(end));
    // A space as `+` (form encoding).
    if c == ' ' && bytes.get(p) == Some(&b'+') {
        ends[2] = Some(p + 1);
    }
    ends.into_iter().flatten()
}

/// Whether `rest` (the end of the input) is a proper, non-empty start of a spelling of `c`.
fn cut_spelling(rest: &[u8], c: char, enc: &[u8]) -> bool {
    if rest.is_empty() {
        return false;
    }
    // Percent or raw, byte by byte: the input ends before the last byte of `c` is complete.
    let mut p = 0;
    for &b in enc {
        if p == rest.len() {
            return true;
        }
        if rest[p] == b {
            p += 1;
            continue;
        }
        if rest[p] != b'%' {
            break;
        }
        let tail = &rest[p + 1..];
        let want = format!("{b:02X}");
        if tail.len() < 2 {
            if want.as_bytes()[..tail.len()].eq_ignore_ascii_case(tail) {
                return true;
            }
            break;
        }
        if hex_byte(&tail[..2]) != Some(b) {
            break;
        }
        p += 3;
    }
    // A JSON escape cut short: `\`, `\u`, `\u00`, or a high surrogate without its pair.
    if rest[0] == b'\\' && rest.len() < 12 {
        let mut buf = [0u16; 2];
        let mut want = String::new();
        for u in c.encode_utf16(&mut buf).iter() {
            want.push_str(&format!("\\u{u:04X}"));
        }
        if rest.len() == 1 || (rest.len() < want.len() && want.as_bytes()[..rest.len()].eq_ignore_ascii_case(rest)) {
            return true;
        }
    }
    false
}

/// Where `enc` ends when spelled at `p` byte by byte, each byte raw or as `%HH`.
fn percent_or_raw(bytes: &[u8], mut p: usize, enc: &[u8]) -> Option<usize> {
    for &b in enc {
        if bytes.get(p) == Some(&b) {
            p += 1;
        } else if bytes.get(p) == Some(&b'%') && hex_byte(bytes.get(p + 1..p + 3)?) == Some(b) {
            p += 3;
        } else {
            return None;
        }
    }
    Some(p)
}

fn hex_byte(two: &[u8]) -> Option<u8> {
    let s = std::str::from_utf8(two).ok()?;
    u8::from_str_radix(s, 16).ok()
}

fn hex4(bytes: &[u8], p: usize) -> Option<u32> {
    let s = std::str::from_utf8(bytes.get(p..p + 4)?).ok()?;
    if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

/// The character a JSON escape at `p` stands for, and where the escape ends.
fn json_escape(bytes: &[u8], p: usize) -> Option<(char, usize)> {
    if bytes.get(p) != Some(&b'\\') {
        return None;
    }
    let simple = match *bytes.get(p + 1)? {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'u' => {
            let unit = hex4(bytes, p + 2)?;
            if (0xD800..0xDC00).contains(&unit) {
                // A high surrogate must be followed by `\uDC00`–`\uDFFF`.
                if bytes.get(p + 6) != Some(&b'\\') || bytes.get(p + 7) != Some(&b'u') {
                    return None;
                }
                let low = hex4(bytes, p + 8)?;
                if !(0xDC00..0xE000).contains(&low) {
                    return None;
                }
                let c = char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))?;
                return Some((c, p + 12));
            }
            return Some((char::from_u32(unit)?, p + 6));
        }
        _ => return None,
    };
    Some((simple, p + 2))
}

#[cfg(test)]
mod tests {
    use super::Scrubber;

    fn s(token: &str, body: &str) -> String {
        Scrubber::new(token).unwrap().scrub_str(body)
    }

    #[test]
    fn every_spelling_is_masked() {
        let t = "tok/abc+x=";
        assert_eq!(s(t, "Bearer tok/abc+x= end"), "Bearer *** end");
        assert_eq!(
            s(t, r#"{"error":"invalid token: Bearer tok\/abc+x="}"#),
            r#"{"error":"invalid token: Bearer ***"}"#
        );
        assert_eq!(s(t, r#"{"e":"\u0074ok\u002fabc\u002Bx\u003d"}"#), r#"{"e":"***"}"#);
        assert_eq!(s(t, "token=tok%2Fabc%2Bx%3D&a=1"), "token=***&a=1");
        assert_eq!(s(t, "token=tok%2fabc%2bx%3d"), "token=***");
        assert_eq!(s(t, "mixed tok\\/abc%2B\\u0078="), "mixed ***");
        assert_eq!(s("a b", "x a+b y"), "x *** y");
        assert_eq!(
            s("é😀", r#"\u00e9\ud83d\ude00 and %C3%A9%F0%9F%98%80 and é😀"#),
            "*** and *** and ***"
        );
        assert_eq!(
            s("ab", "ab-ab abab xab"),
            "***-*** abab xab",
            "short tokens too, where they stand alone"
        );
        assert_eq!(s("k", "Workflow not found, Bearer k"), "Workflow not found, Bearer ***");
        assert_eq!(s("tok/a+=", r#"{"e":"Bearer tok\/a+="}"#), r#"{"e":"Bearer ***"}"#);
        assert_eq!(s("tok/a+=", "t=tok%2Fa%2B%3D&x"), "t=***&x");
        assert_eq!(s("k", "nothing"), "nothing");
        assert_eq!(s("a\\b", r#"a\\b and a\b"#), "*** and ***");
        assert_eq!(s("tok/abc", "tok/ab"), "tok/ab", "a prefix is not the token");
    }

    #[test]
    fn a_cut_token_is_found_at_the_end() {
        let sc = Scrubber::new("tok/abc").unwrap();
        assert_eq!(sc.trailing_partial(b"xxxx"), 0);
        assert_eq!(sc.trailing_partial(b"xx tok/ab"), 6);
        assert_eq!(sc.trailing_partial(b"xx tok%2"), 5);
        assert_eq!(sc.trailing_partial(br"xx tok\u00"), 7);
        assert_eq!(sc.trailing_partial(br"xx tok\"), 4);
        assert_eq!(sc.trailing_partial(b"xx t"), 1);
        assert_eq!(
            sc.trailing_partial(b"xx tok/abc"),
            0,
            "a whole token is masked, not cut"
        );
    }

    #[test]
    fn hostile_bodies_stay_fast_and_intact() {
        let body = "\\".repeat(10_000) + &"%".repeat(10_000) + "\\u12";
        assert_eq!(s("\\\\\\\\\\\\\\\\x", &body), body);
        let sc = Scrubber::new("tok").unwrap();
        assert_eq!(
            sc.scrub_bytes(b"\xff\xfe tok \xc3"),
            Some(b"\xff\xfe *** \xc3".to_vec())
        );
    }
}
