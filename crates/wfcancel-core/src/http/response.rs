use bytes::Bytes;
use reqwest::header::HeaderMap;

/// An answer read in full (up to the body cap).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
    /// Attempts it took (1 when no retry).
    pub attempts: u32,
}

impl HttpResponse {
    /// A response built by hand (for tests of mapping functions).
    pub fn new(status: u16, headers: HeaderMap, body: impl Into<Bytes>) -> Self {
        HttpResponse {
            status,
            headers,
            body: body.into(),
            attempts: 1,
        }
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A header as text, if present and readable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as text a person can read in an error message (see [`readable_body`]).
    pub fn readable_body(&self) -> String {
        readable_body(&self.body)
    }
}

const MAX_MESSAGE_CHARS: usize = 300;

/// Turns any body into a short line for an error message: trimmed text; for an HTML page its
/// `<title>` (or its text without tags); `"(empty body)"` when empty, `"(body without readable
/// text)"` when it holds only whitespace and control characters; cut to 300 characters. The
/// line never holds a control character and never starts or ends with a space.
///
/// ```
/// use wfcancel_core::http::readable_body;
/// assert_eq!(readable_body(b""), "(empty body)");
/// assert_eq!(readable_body(b"<html><head><title>502 Bad Gateway</title></head><body>x</body></html>"), "502 Bad Gateway");
/// ```
pub fn readable_body(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".to_owned();
    }
    let lower = text.to_ascii_lowercase();
    let looks_html = lower.starts_with("<!doctype html") || lower.starts_with("<html") || lower.contains("<body");
    let line = if looks_html {
        match (lower.find("<title>"), lower.find("</title>")) {
            (Some(a), Some(b)) if b > a + 7 => collapse(&text[a + 7..b]),
            _ => collapse(&strip_tags(text)),
        }
    } else {
        collapse(text)
    };
    let line = match (line.is_empty(), looks_html) {
        (false, _) => line,
        (true, true) => "(HTML page without text)".to_owned(),
        (true, false) => "(body without readable text)".to_owned(),
    };
    truncate(&line, MAX_MESSAGE_CHARS)
}

fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// One line: words separated by single spaces; whitespace and control characters separate
/// words and never show (so a body of control characters collapses to nothing, not to blanks).
fn collapse(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::readable_body;

    /// Inputs found by `scripts/fuzz.sh` (targets `readable_body`, `agno_detail`).
    #[test]
    fn control_characters_never_leave_blanks() {
        assert_eq!(
            readable_body(b"  \t\n\0\0\t\n\0\0\0\0\0\0\0"),
            "(body without readable text)"
        );
        assert_eq!(
            readable_body(b"\x0f\0\0\0\tac\x1b<!doctype html[31m"),
            "ac <!doctype html[31m"
        );
        assert_eq!(
            readable_body(b"<html><title>\x07</title></html>"),
            "(HTML page without text)"
        );
        assert_eq!(readable_body(b"a\x1b[31mb"), "a [31mb");
    }
}
