//! `docs/walkthrough.md` stays true (issue 21): every function it links to
//! (``[`Type::name`](../path/file.rs)``) is defined in the file it names,
//! every step names at least one function and one RFC section, and the
//! picture it shows is in the repository.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The links of `text` whose label is code and whose target is a Rust
/// file: (label, target), as written.
fn function_links(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("[`") {
        rest = &rest[i + 2..];
        let Some(end) = rest.find("`](") else { break };
        let label = &rest[..end];
        let after = &rest[end + 3..];
        let Some(close) = after.find(')') else { break };
        let target = &after[..close];
        if target.ends_with(".rs") && !label.contains(char::is_whitespace) {
            out.push((label.to_string(), target.to_string()));
        }
        rest = after;
    }
    out
}

/// Whether `source` defines a function `name` (any visibility, generic or
/// not, async or not).
fn defines(source: &str, name: &str) -> bool {
    source.match_indices(&format!("fn {name}")).any(|(i, m)| {
        let next = source[i + m.len()..].chars().next();
        matches!(next, Some('(') | Some('<'))
    })
}

#[test]
fn every_function_the_walkthrough_names_exists_in_the_file_it_names() {
    let doc = std::fs::read_to_string(repo().join("docs/walkthrough.md")).unwrap();
    let links = function_links(&doc);
    assert!(links.len() >= 20, "only {} function links", links.len());
    let mut missing = Vec::new();
    for (label, target) in &links {
        let path = repo().join("docs").join(target);
        let Ok(source) = std::fs::read_to_string(&path) else {
            missing.push(format!("{label}: no file {target}"));
            continue;
        };
        let name = label.rsplit("::").next().unwrap();
        if !defines(&source, name) {
            missing.push(format!("{label}: no `fn {name}` in {target}"));
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");
}

#[test]
fn every_step_names_a_function_and_an_rfc_section() {
    let doc = std::fs::read_to_string(repo().join("docs/walkthrough.md")).unwrap();
    let steps: Vec<&str> = doc.split("\n### ").skip(1).collect();
    assert!(steps.len() >= 8, "{} steps", steps.len());
    for s in steps {
        let title = s.lines().next().unwrap();
        assert!(
            !function_links(s).is_empty(),
            "step {title:?} names no function"
        );
        assert!(
            s.contains("RFC ") && s.contains('§'),
            "step {title:?} cites no RFC section"
        );
    }
}

#[test]
fn the_walkthrough_shows_a_real_capture_and_its_timeline() {
    let doc = std::fs::read_to_string(repo().join("docs/walkthrough.md")).unwrap();
    assert!(doc.contains("](img/timeline.png)"));
    let png = std::fs::read(repo().join("docs/img/timeline.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // Excerpts of `meshrtc decode` output, as it prints packet headings.
    assert!(doc.matches("── packet ").count() >= 5);
}

#[test]
fn the_link_reader_finds_code_links_to_rust_files_only() {
    let text =
        "a [`Foo::bar`](../x/y.rs) b [`baz`](z.rs) [`not code`](a.rs) [c](d.rs) [`img`](p.png)";
    assert_eq!(
        function_links(text),
        vec![
            ("Foo::bar".to_string(), "../x/y.rs".to_string()),
            ("baz".to_string(), "z.rs".to_string())
        ]
    );
    assert!(defines("pub(super) fn bar(&self)", "bar"));
    assert!(defines("fn bar<T>(x: T)", "bar"));
    assert!(!defines("fn barrel()", "bar"));
}
