//! The only module that talks to the Python parser (`ruff_python_parser`, pinned exactly).
//!
//! It parses source text and converts the parser's tree into the crate's own small AST view
//! ([`super::ast`]). Swapping the parser means rewriting this file only.

use super::ast::{
    Alias, BinOp, ClassDef, Expr, FPart, FunctionDef, Keyword, Module, Param, Parameters, Stmt,
    UnaryOp,
};
use ruff_python_ast as py;

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
pub(crate) fn parse_module(source: &str) -> Result<Module, SyntaxProblem> {
    match ruff_python_parser::parse_module(source) {
        Ok(parsed) => {
            let body = parsed.into_syntax().body;
            Ok(Module {
                body: body.iter().map(stmt).collect(),
            })
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

fn body(stmts: &[py::Stmt]) -> Vec<Stmt> {
    stmts.iter().map(stmt).collect()
}

fn stmt(s: &py::Stmt) -> Stmt {
    match s {
        py::Stmt::FunctionDef(f) => Stmt::FunctionDef(Box::new(FunctionDef {
            name: f.name.as_str().to_string(),
            is_async: f.is_async,
            decorators: f
                .decorator_list
                .iter()
                .map(|d| expr(&d.expression))
                .collect(),
            params: parameters(&f.parameters),
            body: body(&f.body),
        })),
        py::Stmt::ClassDef(c) => {
            let (bases, keywords) = match &c.arguments {
                Some(a) => (
                    a.args.iter().map(expr).collect(),
                    a.keywords.iter().map(keyword).collect(),
                ),
                None => (Vec::new(), Vec::new()),
            };
            Stmt::ClassDef(Box::new(ClassDef {
                name: c.name.as_str().to_string(),
                bases,
                keywords,
                body: body(&c.body),
            }))
        }
        py::Stmt::Import(i) => Stmt::Import(i.names.iter().map(alias).collect()),
        py::Stmt::ImportFrom(i) => Stmt::ImportFrom {
            module: i.module.as_ref().map(|m| m.as_str().to_string()),
            names: i.names.iter().map(alias).collect(),
            level: i.level,
        },
        py::Stmt::Assign(a) => Stmt::Assign {
            targets: a.targets.iter().map(expr).collect(),
            value: expr(&a.value),
        },
        py::Stmt::AnnAssign(a) => Stmt::AnnAssign {
            target: expr(&a.target),
            annotation: expr(&a.annotation),
            value: a.value.as_deref().map(expr),
        },
        py::Stmt::If(i) => {
            let mut branches = vec![(Some(expr(&i.test)), body(&i.body))];
            for clause in &i.elif_else_clauses {
                branches.push((clause.test.as_ref().map(expr), body(&clause.body)));
            }
            Stmt::If { branches }
        }
        py::Stmt::Try(t) => Stmt::Try {
            body: body(&t.body),
            orelse: body(&t.orelse),
            finalbody: body(&t.finalbody),
        },
        py::Stmt::For(f) => Stmt::Block(vec![body(&f.body), body(&f.orelse)]),
        py::Stmt::While(w) => Stmt::Block(vec![body(&w.body), body(&w.orelse)]),
        py::Stmt::With(w) => Stmt::Block(vec![body(&w.body)]),
        py::Stmt::Match(m) => Stmt::Block(m.cases.iter().map(|c| body(&c.body)).collect()),
        py::Stmt::Expr(e) => Stmt::Expr(expr(&e.value)),
        _ => Stmt::Other,
    }
}

fn alias(a: &py::Alias) -> Alias {
    Alias {
        name: a.name.as_str().to_string(),
        asname: a.asname.as_ref().map(|n| n.as_str().to_string()),
    }
}

fn keyword(k: &py::Keyword) -> Keyword {
    Keyword {
        arg: k.arg.as_ref().map(|a| a.as_str().to_string()),
        value: expr(&k.value),
    }
}

fn param(p: &py::Parameter, default: Option<&py::Expr>) -> Param {
    Param {
        name: p.name.as_str().to_string(),
        annotation: p.annotation.as_deref().map(expr),
        default: default.map(expr),
    }
}

fn parameters(p: &py::Parameters) -> Parameters {
    let with_default = |pw: &py::ParameterWithDefault| param(&pw.parameter, pw.default.as_deref());
    Parameters {
        posonly: p.posonlyargs.iter().map(with_default).collect(),
        args: p.args.iter().map(with_default).collect(),
        vararg: p.vararg.as_deref().map(|v| param(v, None)),
        kwonly: p.kwonlyargs.iter().map(with_default).collect(),
        kwarg: p.kwarg.as_deref().map(|v| param(v, None)),
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

fn fstring_parts(v: &py::FStringValue) -> Vec<FPart> {
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
                                expr: Box::new(expr(&i.expression)),
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

fn expr(e: &py::Expr) -> Expr {
    match e {
        py::Expr::Name(n) => Expr::Name(n.id.as_str().to_string()),
        py::Expr::Attribute(a) => {
            Expr::Attribute(Box::new(expr(&a.value)), a.attr.as_str().to_string())
        }
        py::Expr::Call(c) => Expr::Call {
            func: Box::new(expr(&c.func)),
            args: c.arguments.args.iter().map(expr).collect(),
            keywords: c.arguments.keywords.iter().map(keyword).collect(),
        },
        py::Expr::Subscript(s) => {
            Expr::Subscript(Box::new(expr(&s.value)), Box::new(expr(&s.slice)))
        }
        py::Expr::Tuple(t) => Expr::Tuple(t.elts.iter().map(expr).collect()),
        py::Expr::List(l) => Expr::List(l.elts.iter().map(expr).collect()),
        py::Expr::Set(s) => Expr::Set(s.elts.iter().map(expr).collect()),
        py::Expr::Dict(d) => Expr::Dict(
            d.items
                .iter()
                .map(|item| (item.key.as_ref().map(expr), expr(&item.value)))
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
        py::Expr::FString(f) => Expr::FString(fstring_parts(&f.value)),
        py::Expr::BinOp(b) => Expr::BinOp(
            Box::new(expr(&b.left)),
            binop(b.op),
            Box::new(expr(&b.right)),
        ),
        py::Expr::UnaryOp(u) => Expr::UnaryOp(
            match u.op {
                py::UnaryOp::USub => UnaryOp::Neg,
                py::UnaryOp::UAdd => UnaryOp::Pos,
                py::UnaryOp::Not => UnaryOp::Not,
                py::UnaryOp::Invert => UnaryOp::Invert,
            },
            Box::new(expr(&u.operand)),
        ),
        py::Expr::Starred(s) => Expr::Starred(Box::new(expr(&s.value))),
        py::Expr::Compare(c) => {
            let eq = c.ops.len() == 1 && matches!(c.ops[0], py::CmpOp::Eq);
            Expr::Compare(
                Box::new(expr(&c.left)),
                c.comparators.iter().map(expr).collect(),
                eq,
            )
        }
        py::Expr::Lambda(_) => Expr::Lambda,
        _ => Expr::Other,
    }
}

/// Parses a single expression (a string annotation); `None` when it does not parse.
pub(crate) fn parse_expression(source: &str) -> Option<Expr> {
    let parsed = ruff_python_parser::parse_expression(source.trim()).ok()?;
    Some(expr(&parsed.into_syntax().body))
}
