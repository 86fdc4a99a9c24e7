//! The timeline page: one self-contained HTML file (inline CSS and
//! script, nothing fetched) that draws [`super::model::Timeline`].
//!
//! The capture is untrusted input: its bytes reach the page only as JSON
//! inside a `<script type="application/json">` element, with `<`, `>`,
//! `&` and the two JavaScript line separators written as `\u` escapes, so
//! no string can end that element or start another; the script puts text
//! into the page with `textContent` only, never as markup. The title (the
//! file names) is HTML-escaped.

use super::model::Timeline;

const CSS: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// `s` with the five HTML-special characters escaped.
pub fn escape_html(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// JSON text made safe inside a `<script>` element: nothing in it can
/// close the element (`</script>`), open a comment (`<!--`) or break a
/// line in older parsers (U+2028, U+2029). JSON reads the escapes back as
/// the same characters.
pub fn escape_json_for_script(json: &str) -> String {
    let mut o = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => o.push_str("\\u003c"),
            '>' => o.push_str("\\u003e"),
            '&' => o.push_str("\\u0026"),
            '\u{2028}' => o.push_str("\\u2028"),
            '\u{2029}' => o.push_str("\\u2029"),
            c => o.push(c),
        }
    }
    o
}

/// The page for `tl`, titled `title`.
pub fn render(tl: &Timeline, title: &str) -> String {
    let data = escape_json_for_script(&tl.to_json().to_string());
    let title = escape_html(title);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n\
         <title>meshrtc timeline: {title}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n\
         <header><h1>meshrtc timeline: {title}</h1>\n\
         <div id=\"controls\"></div><p id=\"summary\"></p></header>\n\
         <main><div id=\"ladder\"></div><aside><h2>Packet</h2><pre id=\"detail\">Click an arrow, a run or a note.</pre></aside></main>\n\
         <script type=\"application/json\" id=\"data\">{data}</script>\n\
         <script>\n{SCRIPT}</script>\n</body>\n</html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::model::{Arrow, Kind, Row};

    fn hostile() -> Timeline {
        let evil = "</script><script>alert(1)</script><!-- \u{2028} & <img src=x onerror=alert(2)>";
        Timeline {
            lanes: vec![evil.into(), "b".into()],
            rows: vec![
                Row::Arrow {
                    kind: Kind::Stun,
                    phase: "ICE checks",
                    arrow: Arrow {
                        t: 0.0,
                        from: 0,
                        to: 1,
                        label: evil.into(),
                        explain: 0,
                    },
                },
                Row::Note {
                    t: 0.1,
                    lane: 1,
                    label: evil.into(),
                    detail: evil.into(),
                },
            ],
            explanations: vec![evil.into()],
            ..Timeline::default()
        }
    }

    #[test]
    fn hostile_text_cannot_close_the_data_element_or_add_markup() {
        let page = render(&hostile(), "</title><script>alert(3)</script>");
        // Our two script elements, and no other opening or closing tag
        // from the data.
        assert_eq!(page.matches("<script").count(), 2, "{page}");
        assert_eq!(page.matches("</script>").count(), 2);
        assert!(!page.contains("<img"));
        assert!(!page.contains("<!--"));
        assert!(!page.contains('\u{2028}'));
        assert!(page.contains("&lt;/title&gt;&lt;script&gt;alert(3)"));
    }

    #[test]
    fn the_escaped_json_reads_back_as_the_same_strings() {
        let tl = hostile();
        let page = render(&tl, "x");
        let start = page.find("id=\"data\">").unwrap() + "id=\"data\">".len();
        let end = start + page[start..].find("</script>").unwrap();
        let v: serde_json::Value = serde_json::from_str(&page[start..end]).unwrap();
        assert_eq!(v, tl.to_json());
    }

    #[test]
    fn the_page_fetches_nothing() {
        // The SVG namespace is a name and `url(#head)` the arrowhead in
        // the page, not fetches; the data element is
        // text (the hostile strings' `src=` is inert there).
        let page = render(&hostile(), "x")
            .replace("http://www.w3.org/2000/svg", "")
            .replace("url(#head)", "");
        let start = page.find("id=\"data\">").unwrap();
        let end = start + page[start..].find("</script>").unwrap();
        let page = format!("{}{}", &page[..start], &page[end..]);
        for needle in ["http://", "https://", "src=", "href=", "@import", "url("] {
            assert!(!page.contains(needle), "{needle} in the page");
        }
    }
}
