//! Docstrings: Python's `inspect.cleandoc` and the `Args:` section of Google-style docstrings
//! as griffe 2.4 (Prefect's parser) reads it.

use std::collections::HashMap;

/// Python's `inspect.cleandoc` (3.11): tabs expanded, the common indentation of the lines
/// after the first removed, the first line left-stripped, leading and trailing empty lines
/// dropped.
pub fn cleandoc(doc: &str) -> String {
    let expanded = expand_tabs(doc);
    let mut lines: Vec<String> = expanded.split('\n').map(str::to_string).collect();
    let mut margin = usize::MAX;
    for line in lines.iter().skip(1) {
        let content = line.trim_start().chars().count();
        if content > 0 {
            let indent = line.chars().count() - content;
            margin = margin.min(indent);
        }
    }
    if let Some(first) = lines.first_mut() {
        *first = first.trim_start().to_string();
    }
    if margin < usize::MAX {
        for line in lines.iter_mut().skip(1) {
            *line = line.chars().skip(margin).collect();
        }
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    while lines.first().is_some_and(|l| l.is_empty()) {
        lines.remove(0);
    }
    lines.join("\n")
}

fn expand_tabs(s: &str) -> String {
    let mut out = String::new();
    let mut col = 0usize;
    for c in s.chars() {
        match c {
            '\t' => {
                let n = 8 - (col % 8);
                out.extend(std::iter::repeat_n(' ', n));
                col += n;
            }
            '\n' | '\r' => {
                out.push(c);
                col = 0;
            }
            _ => {
                out.push(c);
                col += 1;
            }
        }
    }
    out
}

fn is_empty_line(line: &str) -> bool {
    line.trim().is_empty()
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// Section titles griffe's Google parser knows, and whether they hold parameters.
fn section_kind(title: &str) -> Option<SectionKind> {
    match title.to_lowercase().as_str() {
        "args" | "arguments" | "params" | "parameters" => Some(SectionKind::Parameters),
        "examples" => Some(SectionKind::Block),
        "keyword args" | "keyword arguments" | "other args" | "other arguments"
        | "other params" | "other parameters" | "type args" | "type arguments" | "type params"
        | "type parameters" | "raises" | "exceptions" | "returns" | "yields" | "receives"
        | "attributes" | "functions" | "methods" | "classes" | "type aliases" | "modules"
        | "warns" | "warnings" => Some(SectionKind::Items),
        _ => None,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SectionKind {
    Parameters,
    Items,
    Block,
}

/// `^(?P<type>[\w][\s\w-]*):(\s+(?P<title>[^\s].*))?\s*$`: the admonition/section type.
fn admonition_type(line: &str) -> Option<String> {
    let (head, rest) = line.split_once(':')?;
    let mut chars = head.chars();
    let first = chars.next()?;
    if !(first.is_alphanumeric() || first == '_') {
        return None;
    }
    if !chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c.is_whitespace()) {
        return None;
    }
    // After the colon: nothing but whitespace, or whitespace then a title.
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return None;
    }
    Some(head.to_string())
}

type BlockItems = Vec<Vec<String>>;

/// griffe's `_read_block_items`: items of an indented block and the last line consumed.
fn read_block_items(lines: &[&str], offset: usize) -> (BlockItems, usize) {
    if offset >= lines.len() {
        return (Vec::new(), offset);
    }
    let mut new_offset = offset;
    while new_offset < lines.len() && is_empty_line(lines[new_offset]) {
        new_offset += 1;
    }
    if new_offset >= lines.len() {
        return (Vec::new(), new_offset.saturating_sub(1));
    }
    let indent = indent_of(lines[new_offset]);
    if indent == 0 {
        return (Vec::new(), new_offset.saturating_sub(1));
    }
    let mut items: BlockItems = Vec::new();
    let mut current: Vec<String> = vec![lines[new_offset][indent..].to_string()];
    new_offset += 1;
    while new_offset < lines.len() {
        let line = lines[new_offset];
        if is_empty_line(line) {
            current.push(String::new());
        } else if line.starts_with(&" ".repeat(indent * 2)) {
            current.push(line[indent * 2..].to_string());
        } else if line.starts_with(&" ".repeat(indent + 1)) {
            let cont = indent_of(line);
            current.push(line[cont..].to_string());
        } else if line.starts_with(&" ".repeat(indent)) {
            items.push(std::mem::take(&mut current));
            current.push(line[indent..].to_string());
        } else {
            break;
        }
        new_offset += 1;
    }
    items.push(current);
    (items, new_offset - 1)
}

/// griffe's `_read_block`: the last line consumed.
fn read_block(lines: &[&str], offset: usize) -> usize {
    if offset >= lines.len() {
        return offset.saturating_sub(1);
    }
    let mut new_offset = offset;
    while new_offset < lines.len() && is_empty_line(lines[new_offset]) {
        new_offset += 1;
    }
    if new_offset >= lines.len() {
        return new_offset.saturating_sub(1);
    }
    let indent = indent_of(lines[new_offset]);
    if indent == 0 {
        return offset.saturating_sub(1);
    }
    new_offset += 1;
    let prefix = " ".repeat(indent);
    while new_offset < lines.len()
        && (lines[new_offset].starts_with(&prefix) || is_empty_line(lines[new_offset]))
    {
        new_offset += 1;
    }
    new_offset - 1
}

/// Prefect's `parameter_docstrings`: parameter name → description from the (last)
/// parameters section of a Google-style docstring.
pub fn parameter_docstrings(docstring: Option<&str>) -> HashMap<String, String> {
    let mut result = HashMap::new();
    let Some(doc) = docstring else { return result };
    if doc.is_empty() {
        return result;
    }
    // griffe's Docstring cleans the value again.
    let cleaned = cleandoc(doc.trim_end());
    let lines: Vec<&str> = cleaned.split('\n').collect();
    let mut offset = 0usize;
    let mut in_code = false;
    while offset < lines.len() {
        let line = lines[offset];
        let fence = line.trim_start_matches(' ').starts_with("```");
        if in_code {
            if fence {
                in_code = false;
            }
        } else if fence {
            in_code = true;
        } else if let Some(kind_name) = line.contains(':').then(|| admonition_type(line)).flatten()
        {
            let has_next = offset + 1 < lines.len();
            let has_next2 = offset + 2 < lines.len();
            let blank_above = offset == 0 || is_empty_line(lines[offset - 1]);
            let blank_below = has_next && is_empty_line(lines[offset + 1]);
            let blanks_below = has_next2 && is_empty_line(lines[offset + 2]);
            let indented_below = has_next && !blank_below && lines[offset + 1].starts_with(' ');
            let indented_2below = has_next2 && !blanks_below && lines[offset + 2].starts_with(' ');
            if !(indented_below || indented_2below) {
                offset += 1;
                continue;
            }
            let skipped = !blank_above || (indented_2below && blank_below);
            if skipped {
                offset += 1;
                continue;
            }
            match section_kind(&kind_name) {
                Some(SectionKind::Parameters) => {
                    let (items, end) = read_block_items(&lines, offset + 1);
                    let mut params = HashMap::new();
                    for item in items {
                        let Some((name_with_type, desc)) = item[0].split_once(':') else {
                            continue;
                        };
                        let mut parts = vec![desc.trim_start().to_string()];
                        parts.extend(item[1..].iter().cloned());
                        let description = parts.join("\n").trim_end_matches('\n').to_string();
                        let name = if name_with_type.contains('(') && name_with_type.ends_with(')')
                        {
                            name_with_type
                                .split_once('(')
                                .map_or("", |(n, _)| n)
                                .trim()
                                .to_string()
                        } else {
                            name_with_type.to_string()
                        };
                        params.insert(name, description);
                    }
                    result = params;
                    offset = end;
                }
                Some(SectionKind::Items) => {
                    let (_, end) = read_block_items(&lines, offset + 1);
                    offset = end;
                }
                Some(SectionKind::Block) | None => {
                    offset = read_block(&lines, offset + 1);
                }
            }
        }
        offset += 1;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleandoc_like_python() {
        assert_eq!(cleandoc("Say hello."), "Say hello.");
        assert_eq!(
            cleandoc("First.\n\n    Args:\n        x: y\n    "),
            "First.\n\nArgs:\n    x: y"
        );
        assert_eq!(
            cleandoc("\n   Indented first\n   second\n"),
            "Indented first\nsecond"
        );
        // Whitespace-only lines deeper than the margin are kept (Python only drops empty ones).
        assert_eq!(cleandoc("a\n  b\n      \n"), "a\nb\n    ");
    }

    #[test]
    fn google_args_with_continuations() {
        let doc = "Send.\n\n    Args:\n        recipients: E-mail addresses.\n        subject: Subject line. Can span\n            two lines.\n        attach (bool): Whether to attach.\n\n    Returns:\n        Count.\n    ";
        let d = parameter_docstrings(Some(doc));
        assert_eq!(d["recipients"], "E-mail addresses.");
        assert_eq!(d["subject"], "Subject line. Can span\ntwo lines.");
        assert_eq!(d["attach"], "Whether to attach.");
        assert_eq!(d.len(), 3);
    }

    #[test]
    fn section_needs_blank_line_above_and_content() {
        assert!(parameter_docstrings(Some("Run.\nArgs:\n    x: nope")).is_empty());
        assert!(parameter_docstrings(Some("Run.\n\nArgs:")).is_empty());
        // cleandoc removes the common indentation first: a bare section has no indented body.
        assert!(parameter_docstrings(Some("Args:\n    x: nope")).is_empty());
        assert_eq!(
            parameter_docstrings(Some("Run.\n\n    Args:\n        x: yes"))["x"],
            "yes"
        );
    }
}
