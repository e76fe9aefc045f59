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

/// How many matching steps one start position may take at most (beyond 64 a token
/// character). Failed states are remembered, so a token full of `\` or `%` (which have two
/// readings each) costs polynomial, not exponential, work; the budget only bounds what a
/// hostile body can make one position cost.
const STEP_BUDGET: u32 = 4_096;

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

/// The state of matching from one start position: the budget left and the `(position, token
/// index)` pairs already known not to lead to a match.
struct Search {
    budget: u32,
    failed: std::collections::HashSet<(usize, usize)>,
}

impl Scrubber {
    /// A scrubber for `token`; `None` for an empty token (nothing to find).
    pub(crate) fn new(token: &str) -> Option<Self> {
        (!token.is_empty()).then(|| Scrubber {
            token: token.chars().collect(),
        })
    }

    fn search(&self) -> Search {
        Search {
            budget: u32::try_from(self.token.len())
                .unwrap_or(u32::MAX / 128)
                .saturating_mul(64)
                .saturating_add(STEP_BUDGET),
            failed: std::collections::HashSet::new(),
        }
    }

    /// `bytes` with every spelling of the token replaced by `***`, or `None` when there is none.
    pub(crate) fn scrub_bytes(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        // Every spelling of a character takes at least one byte.
        if bytes.len() < self.token.len() {
            return None;
        }
        let mut out: Option<Vec<u8>> = None;
        let mut copied = 0;
        // A spelling of the first character starts with its first byte, `%`, `\` or (a space)
        // `+`: every other position is skipped without a search (`memchr`: every answer of
        // every request is scanned).
        let mut first = [0u8; 4];
        let lead = self.token[0].encode_utf8(&mut first).as_bytes()[0];
        let plus = self.token[0] == ' ';
        let mut i = 0;
        while i < bytes.len() {
            let rest = &bytes[i..];
            let found = memchr::memchr3(lead, b'%', b'\\', rest);
            let found = if plus {
                match (found, memchr::memchr(b'+', rest)) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            } else {
                found
            };
            let Some(offset) = found else { break };
            i += offset;
            match self.match_at(bytes, i, 0, &mut self.search()) {
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

    /// A JSON body whose strings (and keys), once decoded, hold a spelling of the token that
    /// the bytes did not show (escapes in escapes: `tok\u00252F…` decodes to `tok%2F…`,
    /// `tok\\/…` to `tok\/…`), with those strings masked and the body written again; `None` when
    /// there is nothing to mask, or the body is not JSON. A body without a `\` has no escape,
    /// so its decoded strings are its bytes, already scrubbed: it is not parsed at all.
    pub(crate) fn scrub_json(&self, body: &[u8]) -> Option<Vec<u8>> {
        if !body.contains(&b'\\') {
            return None;
        }
        let mut value: serde_json::Value = serde_json::from_slice(body).ok()?;
        let mut changed = false;
        self.scrub_value(&mut value, &mut changed);
        if !changed {
            return None;
        }
        serde_json::to_vec(&value).ok()
    }

    fn scrub_value(&self, value: &mut serde_json::Value, changed: &mut bool) {
        use serde_json::Value;
        match value {
            Value::String(s) => {
                if let Some(b) = self.scrub_bytes(s.as_bytes()) {
                    *s = String::from_utf8_lossy(&b).into_owned();
                    *changed = true;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.scrub_value(v, changed)),
            Value::Object(map) => {
                let entries = std::mem::take(map);
                for (key, mut v) in entries {
                    self.scrub_value(&mut v, changed);
                    let key = match self.scrub_bytes(key.as_bytes()) {
                        Some(b) => {
                            *changed = true;
                            String::from_utf8_lossy(&b).into_owned()
                        }
                        None => key,
                    };
                    map.insert(key, v);
                }
            }
            _ => {}
        }
    }

    /// `text` with every spelling of the token replaced by `***`.
    pub(crate) fn scrub_str(&self, text: &str) -> String {
        match self.scrub_bytes(text.as_bytes()) {
            Some(b) => String::from_utf8_lossy(&b).into_owned(),
            None => text.to_owned(),
        }
    }

    /// Whether a match at `bytes[start..end]` is masked: always for a token of
    /// [`WHOLE_WORD_BELOW`] characters or more; a shorter one only where it stands alone (no
    /// letter, digit or `_` right before or after it, once escapes are decoded: `%20k`,
    /// `\u0020k` and `\nk` stand alone), so that a short token such as `k` is masked in
    /// `Bearer k` but does not garble `Workflow not found`, which the backend must still read.
    fn stands_alone(&self, bytes: &[u8], start: usize, end: usize) -> bool {
        if self.token.len() >= WHOLE_WORD_BELOW {
            return true;
        }
        let wordy = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !wordy(char_before(bytes, start)) && !wordy(char_at(bytes, end))
    }

    /// How many bytes at the end of `bytes` may be the start of a spelling of the token (0 when
    /// none): what to cut as well from a body cut at the size cap, so that no start of the token
    /// shows either.
    pub(crate) fn trailing_partial(&self, bytes: &[u8]) -> usize {
        // The longest spelling: 12 bytes a character (`\uD83D\uDE00`, `%F0%9F%98%80`).
        let window = self.token.len().saturating_mul(12).min(bytes.len());
        let from = bytes.len() - window;
        for p in from..bytes.len() {
            if self.partial_at(bytes, p, 0, &mut self.search()) {
                return bytes.len() - p;
            }
        }
        0
    }

    /// Whether `bytes[p..]` (which ends the input) is a proper start of a spelling of
    /// `token[k..]`: the input runs out before the token does.
    fn partial_at(&self, bytes: &[u8], p: usize, k: usize, search: &mut Search) -> bool {
        if k == self.token.len() || search.budget == 0 || search.failed.contains(&(p, k)) {
            return false;
        }
        if p == bytes.len() {
            return k > 0;
        }
        search.budget -= 1;
        let c = self.token[k];
        let mut utf8 = [0u8; 4];
        let enc = c.encode_utf8(&mut utf8).as_bytes();
        // The input ends inside a spelling of `c`, or after one, inside the rest.
        if cut_spelling(&bytes[p..], c, enc)
            || spellings(bytes, p, c).any(|end| self.partial_at(bytes, end, k + 1, search))
        {
            return true;
        }
        search.failed.insert((p, k));
        false
    }

    /// Where a match of `token[k..]` starting at `bytes[p]` ends, if there is one.
    fn match_at(&self, bytes: &[u8], p: usize, k: usize, search: &mut Search) -> Option<usize> {
        if k == self.token.len() {
            return Some(p);
        }
        if search.budget == 0 || search.failed.contains(&(p, k)) {
            return None;
        }
        search.budget -= 1;
        // Every way `token[k]` may be spelled at `p`, each tried in turn (`\` and `%` have two
        // readings: themselves, or the start of an escape).
        for end in spellings(bytes, p, self.token[k]) {
            if let Some(done) = self.match_at(bytes, end, k + 1, search) {
                return Some(done);
            }
        }
        search.failed.insert((p, k));
        None
    }
}

/// The positions where a spelling of `c` that starts at `bytes[p]` can end.
fn spellings(bytes: &[u8], p: usize, c: char) -> impl Iterator<Item = usize> {
    let mut ends: Vec<usize> = Vec::new();
    let mut utf8 = [0u8; 4];
    let enc = c.encode_utf8(&mut utf8).as_bytes();
    // Raw, each byte possibly percent-encoded (`%2F`, `%2f`, `%C3%A9`, `%25` for `%`, …).
    percent_or_raw(bytes, p, enc, &mut ends);
    // JSON escapes: `\/`, `\\`, `\"`, `\b` …, `\uXXXX` (a surrogate pair for other planes).
    if let Some((decoded, end)) = json_escape(bytes, p) {
        if decoded == c {
            ends.push(end);
        }
    }
    // A space as `+` (form encoding).
    if c == ' ' && bytes.get(p) == Some(&b'+') {
        ends.push(p + 1);
    }
    ends.sort_unstable();
    ends.dedup();
    ends.into_iter()
}

/// Every position where `enc` ends when spelled from `p` byte by byte, each byte raw or as
/// `%HH` (both are tried: the byte `%` itself may be raw or `%25`).
fn percent_or_raw(bytes: &[u8], p: usize, enc: &[u8], ends: &mut Vec<usize>) {
    let Some((&b, rest)) = enc.split_first() else {
        ends.push(p);
        return;
    };
    if bytes.get(p) == Some(&b) {
        percent_or_raw(bytes, p + 1, rest, ends);
    }
    if bytes.get(p) == Some(&b'%') && bytes.get(p + 1..p + 3).and_then(hex_byte) == Some(b) {
        percent_or_raw(bytes, p + 3, rest, ends);
    }
}

/// Whether `rest` (the end of the input) is a proper, non-empty start of a spelling of `c`.
fn cut_spelling(rest: &[u8], c: char, enc: &[u8]) -> bool {
    !rest.is_empty() && (cut_percent_or_raw(rest, enc) || cut_json_escape(rest, c))
}

/// Whether `rest` ends inside `enc` spelled byte by byte (raw or `%HH`), possibly inside a `%HH`.
fn cut_percent_or_raw(rest: &[u8], enc: &[u8]) -> bool {
    let Some((&b, more)) = enc.split_first() else {
        return false; // the character is complete: not a cut
    };
    if rest.is_empty() {
        return true;
    }
    if rest[0] == b && cut_percent_or_raw(&rest[1..], more) {
        return true;
    }
    if rest[0] != b'%' {
        return false;
    }
    let tail = &rest[1..];
    let want = format!("{b:02X}");
    if tail.len() < 2 {
        return want.as_bytes()[..tail.len()].eq_ignore_ascii_case(tail);
    }
    hex_byte(&tail[..2]) == Some(b) && cut_percent_or_raw(&rest[3..], more)
}

/// Whether `rest` is a JSON escape of `c` cut short: `\`, `\u`, `\u00`, a high surrogate
/// without its pair, …
fn cut_json_escape(rest: &[u8], c: char) -> bool {
    if rest.first() != Some(&b'\\') || rest.len() >= 12 {
        return false;
    }
    let mut buf = [0u16; 2];
    let mut want = String::new();
    for u in c.encode_utf16(&mut buf).iter() {
        want.push_str(&format!("\\u{u:04X}"));
    }
    rest.len() == 1 || (rest.len() < want.len() && want.as_bytes()[..rest.len()].eq_ignore_ascii_case(rest))
}

fn hex_byte(two: &[u8]) -> Option<u8> {
    let s = std::str::from_utf8(two).ok()?;
    if s.len() != 2 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
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

/// The character that ends right before `end`, escapes decoded (`%HH`, `\uXXXX`, `\n`, …).
fn char_before(bytes: &[u8], end: usize) -> Option<char> {
    if end >= 6 {
        if let Some((c, e)) = json_escape(bytes, end - 6) {
            if e == end {
                return Some(c);
            }
        }
    }
    if end >= 3 && bytes[end - 3] == b'%' {
        if let Some(b) = hex_byte(&bytes[end - 2..end]) {
            return Some(if b.is_ascii() { char::from(b) } else { 'x' });
        }
    }
    if end >= 2 {
        if let Some((c, e)) = json_escape(bytes, end - 2) {
            if e == end {
                return Some(c);
            }
        }
    }
    // A raw character: the last (up to 4-byte) UTF-8 sequence.
    (1..=4.min(end)).find_map(|n| {
        std::str::from_utf8(&bytes[end - n..end])
            .ok()
            .and_then(|s| s.chars().last())
    })
}

/// The character that starts at `start`, escapes decoded.
fn char_at(bytes: &[u8], start: usize) -> Option<char> {
    if let Some((c, _)) = json_escape(bytes, start) {
        return Some(c);
    }
    if bytes.get(start) == Some(&b'%') {
        if let Some(b) = bytes.get(start + 1..start + 3).and_then(hex_byte) {
            return Some(if b.is_ascii() { char::from(b) } else { 'x' });
        }
    }
    let n = bytes.len().saturating_sub(start).min(4);
    (1..=n).find_map(|n| {
        std::str::from_utf8(&bytes[start..start + n])
            .ok()
            .and_then(|s| s.chars().next())
    })
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

    /// Found by review: a token holding `%` echoed percent-encoded (`%25`), and a short token
    /// after an escaped separator.
    #[test]
    fn percent_in_the_token_and_escaped_neighbours() {
        assert_eq!(s("secret%token123", "t=secret%25token123&x"), "t=***&x");
        assert_eq!(s("secret%token123", "t=secret%token123"), "t=***");
        let sc = Scrubber::new("secret%token123").unwrap();
        assert_eq!(sc.trailing_partial(b"xx secret%2"), 8);
        assert_eq!(s("k1x", "auth=Bearer%20k1x"), "auth=Bearer%20***");
        assert_eq!(s("k1x", r#"{"h":"Bearer\u0020k1x"}"#), r#"{"h":"Bearer\u0020***"}"#);
        assert_eq!(s("k1x", r#"line\nk1x and %2Fk1x"#), r#"line\n*** and %2F***"#);
        assert_eq!(s("k1x", "ak1x k1xb"), "ak1x k1xb");
        // Eight backslashes and an `x`, JSON-escaped: sixteen backslashes, all masked.
        let t = "\\\\\\\\x";
        assert_eq!(s(t, &format!("[{}]", "\\".repeat(8) + "x")), "[***]");
    }

    /// Found by review: spellings that only appear once the JSON is decoded.
    #[test]
    fn escapes_in_escapes_are_masked_after_decoding() {
        let sc = Scrubber::new("tok/abc+x=Q7").unwrap();
        for body in [
            r#"{"error":"Bearer tok\u00252Fabc%2Bx%3DQ7"}"#,
            r#"{"error":"{\"inner\":\"Bearer tok\\/abc+x=Q7\"}"}"#,
        ] {
            let once = sc
                .scrub_bytes(body.as_bytes())
                .unwrap_or_else(|| body.as_bytes().to_vec());
            let twice = sc.scrub_json(&once).expect("masked after decoding");
            let v: serde_json::Value = serde_json::from_slice(&twice).unwrap();
            let text = v["error"].as_str().unwrap();
            assert!(text.contains("***") && !text.contains("abc"), "{body}: {text}");
        }
        assert_eq!(sc.scrub_json(br#"{"error":"nothing \n here"}"#), None);
        assert_eq!(sc.scrub_json(b"not json \\"), None);
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
