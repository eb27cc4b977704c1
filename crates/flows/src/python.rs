//! The only module that talks to the Python parser (`ruff_python_parser`, pinned exactly).
//!
//! It parses source text and converts the parser's tree into the crate's own small AST view
//! ([`super::ast`]). Swapping the parser means rewriting this file only.

use super::ast::{
    Alias, BinOp, ClassDef, CmpOp, ExceptHandler, Expr, FPart, FunctionDef, Keyword, Module, Param,
    Parameters, Stmt, UnaryOp,
};
use super::depth;
use ruff_python_ast as py;
use ruff_python_ast::visitor::{
    Visitor, walk_comprehension, walk_except_handler, walk_expr, walk_interpolated_string_element,
    walk_keyword, walk_match_case, walk_parameter, walk_parameters, walk_pattern, walk_stmt,
    walk_with_item,
};
use ruff_text_size::Ranged;

/// A syntax error: where it is and what the parser said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxProblem {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// The parser's description.
    pub detail: String,
    /// CPython's exception class (`SyntaxError`, `IndentationError`).
    pub python_class: &'static str,
    /// CPython's wording where we know it (`expected ':'`), else `invalid syntax`.
    pub python_message: String,
    /// The line CPython reports.
    pub python_line: usize,
}

/// Parses a module.
///
/// Refuses what CPython refuses before running anything: more than
/// [`MAX_BRACKETS`](depth::MAX_BRACKETS) nested brackets (checked before the parser sees the
/// source) and syntax trees deeper than [`MAX_SYNTAX_DEPTH`](depth::MAX_SYNTAX_DEPTH).
pub(crate) fn parse_module(source: &str) -> Result<Module, SyntaxProblem> {
    if let Some(problem) = prescan(source) {
        return Err(problem);
    }
    match ruff_python_parser::parse_module(source) {
        Ok(parsed) => {
            let parsed = parsed.into_syntax();
            let mut probe = DepthProbe::default();
            for s in &parsed.body {
                probe.visit_stmt(s);
            }
            let conv = Conv::new(source);
            if let Some(offset) = probe.too_deep {
                let (line, column) = conv.line_column(source, offset);
                depth::drop_deep(parsed, probe.max);
                return Err(problem(
                    line,
                    column,
                    "RecursionError",
                    "maximum recursion depth exceeded during ast construction",
                    format!(
                        "expressions and statements nest deeper than {} levels",
                        depth::MAX_SYNTAX_DEPTH
                    ),
                ));
            }
            let body = parsed.body.iter().map(|s| conv.stmt(s)).collect();
            depth::guarded(|| drop(parsed));
            Ok(Module { body })
        }
        Err(err) => {
            let offset = usize::from(err.location.start()).min(source.len());
            let before = &source[..offset];
            let line = before.matches('\n').count() + 1;
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            let column = source[line_start..offset].chars().count() + 1;
            let detail = err.error.to_string();
            let (python_class, python_message, python_line) =
                python_error(&err.error, &detail, source, line, offset);
            Err(SyntaxProblem {
                line,
                column,
                detail,
                python_class,
                python_message,
                python_line,
            })
        }
    }
}

/// Measures how deep statements and expressions nest (walking on grown stacks), and where
/// the depth first passes the limit.
#[derive(Default)]
struct DepthProbe {
    depth: usize,
    max: usize,
    too_deep: Option<usize>,
}

impl DepthProbe {
    fn enter(&mut self, start: usize, walk: impl FnOnce(&mut Self)) {
        self.depth += 1;
        self.max = self.max.max(self.depth);
        if self.depth > depth::MAX_SYNTAX_DEPTH && self.too_deep.is_none() {
            self.too_deep = Some(start);
        }
        depth::guarded(|| walk(self));
        self.depth -= 1;
    }
}

impl<'a> Visitor<'a> for DepthProbe {
    fn visit_stmt(&mut self, stmt: &'a py::Stmt) {
        self.enter(usize::from(stmt.start()), |v| walk_stmt(v, stmt));
    }

    fn visit_expr(&mut self, expr: &'a py::Expr) {
        self.enter(usize::from(expr.start()), |v| walk_expr(v, expr));
    }

    // The nodes Python's own syntax tree has between statements and expressions.
    fn visit_parameters(&mut self, p: &'a py::Parameters) {
        self.enter(usize::from(p.start()), |v| walk_parameters(v, p));
    }

    fn visit_parameter(&mut self, p: &'a py::Parameter) {
        self.enter(usize::from(p.start()), |v| walk_parameter(v, p));
    }

    fn visit_keyword(&mut self, k: &'a py::Keyword) {
        self.enter(usize::from(k.start()), |v| walk_keyword(v, k));
    }

    fn visit_comprehension(&mut self, c: &'a py::Comprehension) {
        self.enter(usize::from(c.start()), |v| walk_comprehension(v, c));
    }

    fn visit_except_handler(&mut self, h: &'a py::ExceptHandler) {
        self.enter(usize::from(h.start()), |v| walk_except_handler(v, h));
    }

    fn visit_with_item(&mut self, w: &'a py::WithItem) {
        self.enter(usize::from(w.start()), |v| walk_with_item(v, w));
    }

    fn visit_match_case(&mut self, m: &'a py::MatchCase) {
        self.enter(usize::from(m.start()), |v| walk_match_case(v, m));
    }

    fn visit_pattern(&mut self, p: &'a py::Pattern) {
        self.enter(usize::from(p.start()), |v| walk_pattern(v, p));
    }

    fn visit_interpolated_string_element(&mut self, e: &'a py::InterpolatedStringElement) {
        self.enter(usize::from(e.start()), |v| {
            walk_interpolated_string_element(v, e)
        });
    }
}

/// What CPython's tokenizer refuses before parsing: the 201st nested opening bracket (`too
/// many nested parentheses`) and the 100th level of indentation (`too many levels of
/// indentation`). Strings and comments are skipped.
fn prescan(source: &str) -> Option<SyntaxProblem> {
    let bytes = source.as_bytes();
    let mut level = 0usize;
    let mut indents: Vec<usize> = vec![0];
    let mut line = 1usize;
    let mut line_start = 0usize;
    let mut at_line_start = true;
    let mut i = 0usize;
    let column = |line_start: usize, i: usize| source[line_start..i].chars().count() + 1;
    while i < bytes.len() {
        if at_line_start {
            at_line_start = false;
            let mut col = 0usize;
            let mut j = i;
            while j < bytes.len() {
                match bytes[j] {
                    b' ' => col += 1,
                    b'\t' => col = (col / 8 + 1) * 8,
                    0x0c => col = 0,
                    _ => break,
                }
                j += 1;
            }
            let blank = j >= bytes.len() || matches!(bytes[j], b'\n' | b'\r' | b'#');
            if level == 0 && !blank {
                let top = indents.last().copied().unwrap_or(0);
                if col > top {
                    if indents.len() >= MAX_INDENT {
                        return Some(problem(
                            line,
                            column(line_start, j),
                            "IndentationError",
                            "too many levels of indentation",
                            format!("more than {} levels of indentation", MAX_INDENT - 1),
                        ));
                    }
                    indents.push(col);
                } else {
                    while indents.len() > 1 && indents.last().is_some_and(|&t| t > col) {
                        indents.pop();
                    }
                }
            }
            i = j;
            continue;
        }
        let c = bytes[i];
        match c {
            b'\n' => {
                line += 1;
                line_start = i + 1;
                at_line_start = level == 0;
            }
            b'\\' => {
                // A line continuation: the next line is not a new logical line.
                if i + 1 < bytes.len() && bytes[i + 1] == b'\n' {
                    line += 1;
                    line_start = i + 2;
                }
                i += 2;
                continue;
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'\'' | b'"' => {
                let triple = i + 2 < bytes.len() && bytes[i + 1] == c && bytes[i + 2] == c;
                i += if triple { 3 } else { 1 };
                while i < bytes.len() {
                    let d = bytes[i];
                    if d == b'\\' {
                        if i + 1 < bytes.len() && bytes[i + 1] == b'\n' {
                            line += 1;
                            line_start = i + 2;
                        }
                        i += 2;
                        continue;
                    }
                    if d == b'\n' {
                        if !triple {
                            break;
                        }
                        line += 1;
                        line_start = i + 1;
                    }
                    if d == c
                        && (!triple
                            || (i + 2 < bytes.len() && bytes[i + 1] == c && bytes[i + 2] == c))
                    {
                        i += if triple { 3 } else { 1 };
                        break;
                    }
                    i += 1;
                }
                continue;
            }
            b'(' | b'[' | b'{' => {
                if level >= depth::MAX_BRACKETS {
                    return Some(problem(
                        line,
                        column(line_start, i),
                        "SyntaxError",
                        "too many nested parentheses",
                        format!(
                            "more than {} nested parentheses, brackets or braces",
                            depth::MAX_BRACKETS
                        ),
                    ));
                }
                level += 1;
            }
            b')' | b']' | b'}' => level = level.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// CPython's tokenizer keeps at most 100 indentation levels, the first being column 0.
const MAX_INDENT: usize = 100;

fn problem(
    line: usize,
    column: usize,
    python_class: &'static str,
    python_message: &str,
    detail: String,
) -> SyntaxProblem {
    SyntaxProblem {
        line,
        column,
        detail: format!("{detail}; Python refuses this file too: nest less deeply"),
        python_class,
        python_message: python_message.into(),
        python_line: line,
    }
}

/// Converts the parser's tree (already known to be within the depth limit) into the crate's.
struct Conv {
    /// Byte offsets where lines start.
    line_starts: Vec<usize>,
}

impl Conv {
    fn new(source: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(source.match_indices('\n').map(|(i, _)| i + 1));
        Conv { line_starts }
    }

    /// 1-based line of a byte offset.
    fn line(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&s| s <= offset)
    }

    fn line_column(&self, source: &str, offset: usize) -> (usize, usize) {
        let line = self.line(offset);
        let start = self.line_starts[line - 1];
        let column = source
            .get(start..offset.min(source.len()))
            .map_or(1, |s| s.chars().count() + 1);
        (line, column)
    }
}

/// CPython's class, message and line for a parse error, for the common cases.
fn python_error(
    error: &ruff_python_parser::ParseErrorType,
    detail: &str,
    source: &str,
    line: usize,
    offset: usize,
) -> (&'static str, String, usize) {
    use ruff_python_parser::{LexicalErrorType, ParseErrorType};
    match scan_brackets(source) {
        BracketProblem::Unmatched(c, l) => return ("SyntaxError", format!("unmatched '{c}'"), l),
        BracketProblem::NeverClosed(c, l) => {
            return ("SyntaxError", format!("'{c}' was never closed"), l);
        }
        BracketProblem::None => {}
    }
    match error {
        ParseErrorType::Lexical(LexicalErrorType::UnclosedStringError) => {
            let rest = &source[offset..];
            if rest.starts_with("\"\"\"") || rest.starts_with("'''") {
                let end = source.matches('\n').count() + 1;
                (
                    "SyntaxError",
                    format!("unterminated triple-quoted string literal (detected at line {end})"),
                    line,
                )
            } else {
                (
                    "SyntaxError",
                    format!("unterminated string literal (detected at line {line})"),
                    line,
                )
            }
        }
        ParseErrorType::Lexical(LexicalErrorType::IndentationError) => (
            "IndentationError",
            "unindent does not match any outer indentation level".into(),
            line,
        ),
        ParseErrorType::UnexpectedIndentation => {
            ("IndentationError", "unexpected indent".into(), line)
        }
        ParseErrorType::ExpectedToken { expected, .. } => {
            let shown = expected.to_string();
            let tok = shown.trim_matches('\'').trim_matches('`');
            ("SyntaxError", format!("expected '{tok}'"), line)
        }
        _ => {
            if let Some(what) = detail.strip_prefix("Expected an indented block after ") {
                let header = header_line(source, line);
                (
                    "IndentationError",
                    format!("expected an indented block after {what} on line {header}"),
                    line,
                )
            } else {
                ("SyntaxError", "invalid syntax".into(), line)
            }
        }
    }
}

/// The line of the compound statement whose block should start at `line`.
fn header_line(source: &str, line: usize) -> usize {
    let lines: Vec<&str> = source.split('\n').collect();
    let mut i = line.saturating_sub(1);
    while i > 0 {
        i -= 1;
        let text = lines[i].split('#').next().unwrap_or("").trim_end();
        if text.ends_with(':') {
            // A header spanning several lines starts at its keyword.
            let mut j = i;
            let keywords = [
                "def ", "async ", "class ", "if ", "elif ", "else", "for ", "while ", "with ",
                "try", "except", "finally", "match ", "case ",
            ];
            while j > 0
                && !keywords
                    .iter()
                    .any(|k| lines[j].trim_start().starts_with(k))
            {
                j -= 1;
            }
            return if keywords
                .iter()
                .any(|k| lines[j].trim_start().starts_with(k))
            {
                j + 1
            } else {
                i + 1
            };
        }
    }
    line.saturating_sub(1).max(1)
}

enum BracketProblem {
    None,
    Unmatched(char, usize),
    NeverClosed(char, usize),
}

/// Brackets outside strings and comments: CPython's tokenizer reports these first.
fn scan_brackets(source: &str) -> BracketProblem {
    let chars: Vec<char> = source.chars().collect();
    let mut stack: Vec<(char, usize)> = Vec::new();
    let mut line = 1usize;
    let mut i = 0usize;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\n' => line += 1,
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '\'' | '"' => {
                let triple = i + 2 < chars.len() && chars[i + 1] == c && chars[i + 2] == c;
                let start_line = line;
                i += if triple { 3 } else { 1 };
                loop {
                    if i >= chars.len() {
                        // An unterminated string: not a bracket problem.
                        let _ = start_line;
                        return BracketProblem::None;
                    }
                    let d = chars[i];
                    if d == '\\' {
                        if i + 1 < chars.len() && chars[i + 1] == '\n' {
                            line += 1;
                        }
                        i += 2;
                        continue;
                    }
                    if d == '\n' {
                        if !triple {
                            return BracketProblem::None;
                        }
                        line += 1;
                    }
                    if d == c
                        && (!triple
                            || (i + 2 < chars.len() && chars[i + 1] == c && chars[i + 2] == c))
                    {
                        i += if triple { 3 } else { 1 };
                        break;
                    }
                    i += 1;
                }
                continue;
            }
            '(' | '[' | '{' => stack.push((c, line)),
            ')' | ']' | '}' => {
                let open = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                match stack.pop() {
                    Some((o, _)) if o == open => {}
                    _ => return BracketProblem::Unmatched(c, line),
                }
            }
            _ => {}
        }
        i += 1;
    }
    match stack.pop() {
        Some((c, l)) => BracketProblem::NeverClosed(c, l),
        None => BracketProblem::None,
    }
}

impl Conv {
    fn body(&self, stmts: &[py::Stmt]) -> Vec<Stmt> {
        stmts.iter().map(|s| self.stmt(s)).collect()
    }

    fn stmt(&self, s: &py::Stmt) -> Stmt {
        depth::guarded(|| self.stmt_inner(s))
    }

    fn stmt_inner(&self, s: &py::Stmt) -> Stmt {
        match s {
            py::Stmt::FunctionDef(f) => Stmt::FunctionDef(Box::new(FunctionDef {
                name: f.name.as_str().to_string(),
                is_async: f.is_async,
                decorators: f
                    .decorator_list
                    .iter()
                    .map(|d| self.expr(&d.expression))
                    .collect(),
                params: self.parameters(&f.parameters),
                body: self.body(&f.body),
            })),
            py::Stmt::ClassDef(c) => {
                let (bases, keywords) = match &c.arguments {
                    Some(a) => (
                        a.args.iter().map(|e| self.expr(e)).collect(),
                        a.keywords.iter().map(|k| self.keyword(k)).collect(),
                    ),
                    None => (Vec::new(), Vec::new()),
                };
                Stmt::ClassDef(Box::new(ClassDef {
                    name: c.name.as_str().to_string(),
                    decorators: c
                        .decorator_list
                        .iter()
                        .map(|d| self.expr(&d.expression))
                        .collect(),
                    bases,
                    keywords,
                    body: self.body(&c.body),
                }))
            }
            py::Stmt::Import(i) => Stmt::Import(i.names.iter().map(|a| self.alias(a)).collect()),
            py::Stmt::ImportFrom(i) => Stmt::ImportFrom {
                module: i.module.as_ref().map(|m| m.as_str().to_string()),
                names: i.names.iter().map(|a| self.alias(a)).collect(),
                level: i.level,
            },
            py::Stmt::Assign(a) => Stmt::Assign {
                targets: a.targets.iter().map(|e| self.expr(e)).collect(),
                value: self.expr(&a.value),
            },
            py::Stmt::AnnAssign(a) => Stmt::AnnAssign {
                target: self.expr(&a.target),
                annotation: self.expr(&a.annotation),
                value: a.value.as_deref().map(|e| self.expr(e)),
            },
            py::Stmt::If(i) => {
                let mut branches = vec![(Some(self.expr(&i.test)), self.body(&i.body))];
                for clause in &i.elif_else_clauses {
                    branches.push((
                        clause.test.as_ref().map(|e| self.expr(e)),
                        self.body(&clause.body),
                    ));
                }
                Stmt::If { branches }
            }
            py::Stmt::Try(t) => Stmt::Try {
                body: self.body(&t.body),
                handlers: t
                    .handlers
                    .iter()
                    .map(|h| {
                        let py::ExceptHandler::ExceptHandler(h) = h;
                        ExceptHandler {
                            // `except*` matches exception groups: not modelled.
                            kind: if t.is_star {
                                Some(Expr::Other)
                            } else {
                                h.type_.as_deref().map(|e| self.expr(e))
                            },
                            name: h.name.as_ref().map(|n| n.as_str().to_string()),
                            body: self.body(&h.body),
                        }
                    })
                    .collect(),
                orelse: self.body(&t.orelse),
                finalbody: self.body(&t.finalbody),
            },
            py::Stmt::AugAssign(a) => Stmt::AugAssign {
                target: self.expr(&a.target),
                op: binop(a.op),
                value: self.expr(&a.value),
            },
            py::Stmt::Delete(d) => Stmt::Delete(d.targets.iter().map(|e| self.expr(e)).collect()),
            py::Stmt::For(f) => Stmt::Block(vec![self.body(&f.body), self.body(&f.orelse)]),
            py::Stmt::While(w) => Stmt::Block(vec![self.body(&w.body), self.body(&w.orelse)]),
            py::Stmt::With(w) => Stmt::With {
                items: w
                    .items
                    .iter()
                    .map(|i| {
                        (
                            self.expr(&i.context_expr),
                            i.optional_vars.as_deref().map(|e| self.expr(e)),
                        )
                    })
                    .collect(),
                body: self.body(&w.body),
            },
            py::Stmt::Match(m) => Stmt::Block(m.cases.iter().map(|c| self.body(&c.body)).collect()),
            py::Stmt::Expr(e) => Stmt::Expr(self.expr(&e.value)),
            py::Stmt::Pass(_) => Stmt::Pass,
            py::Stmt::Return(r) => Stmt::Return(r.value.as_deref().map(|e| self.expr(e))),
            _ => Stmt::Other,
        }
    }

    fn alias(&self, a: &py::Alias) -> Alias {
        Alias {
            name: a.name.as_str().to_string(),
            asname: a.asname.as_ref().map(|n| n.as_str().to_string()),
        }
    }

    fn keyword(&self, k: &py::Keyword) -> Keyword {
        Keyword {
            arg: k.arg.as_ref().map(|a| a.as_str().to_string()),
            value: self.expr(&k.value),
        }
    }

    fn param(&self, p: &py::Parameter, default: Option<&py::Expr>) -> Param {
        Param {
            name: p.name.as_str().to_string(),
            line: self.line(usize::from(p.start())),
            annotation: p.annotation.as_deref().map(|e| self.expr(e)),
            default: default.map(|e| self.expr(e)),
        }
    }

    fn parameters(&self, p: &py::Parameters) -> Parameters {
        let with_default =
            |pw: &py::ParameterWithDefault| self.param(&pw.parameter, pw.default.as_deref());
        Parameters {
            posonly: p.posonlyargs.iter().map(with_default).collect(),
            args: p.args.iter().map(with_default).collect(),
            vararg: p.vararg.as_deref().map(|v| self.param(v, None)),
            kwonly: p.kwonlyargs.iter().map(with_default).collect(),
            kwarg: p.kwarg.as_deref().map(|v| self.param(v, None)),
        }
    }

    fn fstring_parts(&self, v: &py::FStringValue) -> Vec<FPart> {
        let mut parts = Vec::new();
        for part in v.iter() {
            match part {
                py::FStringPart::Literal(l) => parts.push(FPart::Literal(l.value.to_string())),
                py::FStringPart::FString(f) => {
                    for el in f.elements.iter() {
                        match el {
                            py::InterpolatedStringElement::Literal(l) => {
                                parts.push(FPart::Literal(l.value.to_string()))
                            }
                            py::InterpolatedStringElement::Interpolation(i) => {
                                parts.push(FPart::Expr {
                                    expr: Box::new(self.expr(&i.expression)),
                                    conversion: match i.conversion {
                                        py::ConversionFlag::None => None,
                                        py::ConversionFlag::Str => Some('s'),
                                        py::ConversionFlag::Ascii => Some('a'),
                                        py::ConversionFlag::Repr => Some('r'),
                                    },
                                    has_spec: i.format_spec.is_some() || i.debug_text.is_some(),
                                })
                            }
                        }
                    }
                }
            }
        }
        parts
    }

    fn expr(&self, e: &py::Expr) -> Expr {
        depth::guarded(|| self.expr_inner(e))
    }

    fn expr_inner(&self, e: &py::Expr) -> Expr {
        match e {
            py::Expr::Name(n) => Expr::Name(n.id.as_str().to_string()),
            py::Expr::Attribute(a) => {
                Expr::Attribute(Box::new(self.expr(&a.value)), a.attr.as_str().to_string())
            }
            py::Expr::Call(c) => Expr::Call {
                func: Box::new(self.expr(&c.func)),
                args: c.arguments.args.iter().map(|e| self.expr(e)).collect(),
                keywords: c
                    .arguments
                    .keywords
                    .iter()
                    .map(|k| self.keyword(k))
                    .collect(),
            },
            py::Expr::Subscript(s) => {
                Expr::Subscript(Box::new(self.expr(&s.value)), Box::new(self.expr(&s.slice)))
            }
            py::Expr::Tuple(t) => Expr::Tuple(t.elts.iter().map(|e| self.expr(e)).collect()),
            py::Expr::List(l) => Expr::List(l.elts.iter().map(|e| self.expr(e)).collect()),
            py::Expr::Set(s) => Expr::Set(s.elts.iter().map(|e| self.expr(e)).collect()),
            py::Expr::Dict(d) => Expr::Dict(
                d.items
                    .iter()
                    .map(|item| {
                        (
                            item.key.as_ref().map(|e| self.expr(e)),
                            self.expr(&item.value),
                        )
                    })
                    .collect(),
            ),
            py::Expr::StringLiteral(s) => Expr::Str(s.value.to_str().to_string()),
            py::Expr::BytesLiteral(b) => Expr::Bytes(
                b.value
                    .iter()
                    .flat_map(|part| part.value.iter().copied())
                    .collect(),
            ),
            py::Expr::NumberLiteral(n) => match &n.value {
                py::Number::Int(i) => Expr::Int(i.to_string().parse::<i128>().ok()),
                py::Number::Float(f) => Expr::Float(*f),
                py::Number::Complex { .. } => Expr::Other,
            },
            py::Expr::BooleanLiteral(b) => Expr::Bool(b.value),
            py::Expr::NoneLiteral(_) => Expr::NoneLit,
            py::Expr::EllipsisLiteral(_) => Expr::Ellipsis,
            py::Expr::FString(f) => Expr::FString(self.fstring_parts(&f.value)),
            py::Expr::BinOp(b) => Expr::BinOp(
                Box::new(self.expr(&b.left)),
                binop(b.op),
                Box::new(self.expr(&b.right)),
            ),
            py::Expr::UnaryOp(u) => Expr::UnaryOp(
                match u.op {
                    py::UnaryOp::USub => UnaryOp::Neg,
                    py::UnaryOp::UAdd => UnaryOp::Pos,
                    py::UnaryOp::Not => UnaryOp::Not,
                    py::UnaryOp::Invert => UnaryOp::Invert,
                },
                Box::new(self.expr(&u.operand)),
            ),
            py::Expr::Starred(s) => Expr::Starred(Box::new(self.expr(&s.value))),
            py::Expr::Compare(c) => Expr::Compare(
                Box::new(self.expr(&c.left)),
                c.ops
                    .iter()
                    .zip(c.comparators.iter())
                    .map(|(op, e)| (cmpop(*op), self.expr(e)))
                    .collect(),
            ),
            py::Expr::If(i) => Expr::IfExp(
                Box::new(self.expr(&i.test)),
                Box::new(self.expr(&i.body)),
                Box::new(self.expr(&i.orelse)),
            ),
            py::Expr::BoolOp(b) => Expr::BoolOp(
                matches!(b.op, py::BoolOp::And),
                b.values.iter().map(|e| self.expr(e)).collect(),
            ),
            py::Expr::Slice(sl) => Expr::Slice(
                sl.lower.as_deref().map(|e| Box::new(self.expr(e))),
                sl.upper.as_deref().map(|e| Box::new(self.expr(e))),
                sl.step.as_deref().map(|e| Box::new(self.expr(e))),
            ),
            py::Expr::Lambda(_) => Expr::Lambda,
            _ => Expr::Other,
        }
    }
}

fn cmpop(op: py::CmpOp) -> CmpOp {
    match op {
        py::CmpOp::Eq => CmpOp::Eq,
        py::CmpOp::NotEq => CmpOp::NotEq,
        py::CmpOp::Lt => CmpOp::Lt,
        py::CmpOp::LtE => CmpOp::LtE,
        py::CmpOp::Gt => CmpOp::Gt,
        py::CmpOp::GtE => CmpOp::GtE,
        py::CmpOp::Is => CmpOp::Is,
        py::CmpOp::IsNot => CmpOp::IsNot,
        py::CmpOp::In => CmpOp::In,
        py::CmpOp::NotIn => CmpOp::NotIn,
    }
}

fn binop(op: py::Operator) -> BinOp {
    match op {
        py::Operator::Add => BinOp::Add,
        py::Operator::Sub => BinOp::Sub,
        py::Operator::Mult => BinOp::Mult,
        py::Operator::Div => BinOp::Div,
        py::Operator::FloorDiv => BinOp::FloorDiv,
        py::Operator::Mod => BinOp::Mod,
        py::Operator::Pow => BinOp::Pow,
        py::Operator::BitOr => BinOp::BitOr,
        _ => BinOp::Other,
    }
}

/// Parses a single expression (a string annotation); `None` when it does not parse or
/// nests deeper than CPython would compile.
pub(crate) fn parse_expression(source: &str) -> Option<Expr> {
    let source = source.trim();
    if prescan(source).is_some() {
        return None;
    }
    let parsed = ruff_python_parser::parse_expression(source)
        .ok()?
        .into_syntax();
    let mut probe = DepthProbe::default();
    probe.visit_expr(&parsed.body);
    if probe.too_deep.is_some() {
        depth::drop_deep(parsed, probe.max);
        return None;
    }
    let e = Conv::new(source).expr(&parsed.body);
    depth::guarded(|| drop(parsed));
    Some(e)
}
