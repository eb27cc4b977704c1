//! A small, parser-independent view of the Python syntax a static flow reader needs.
//!
//! `python.rs` converts the parser's tree into these types; nothing else in the crate sees the
//! parser. Only what matters for reading flows is kept: module-level definitions, imports,
//! assignments, decorators, signatures, and expressions (literals, names, attributes, calls,
//! subscripts, containers, simple operators).

/// A parsed module.
#[derive(Debug, Clone, Default)]
pub(crate) struct Module {
    pub body: Vec<Stmt>,
}

/// A statement.
#[derive(Debug, Clone)]
pub(crate) enum Stmt {
    FunctionDef(Box<FunctionDef>),
    ClassDef(Box<ClassDef>),
    Import(Vec<Alias>),
    ImportFrom {
        module: Option<String>,
        names: Vec<Alias>,
        level: u32,
    },
    Assign {
        targets: Vec<Expr>,
        value: Expr,
    },
    AnnAssign {
        target: Expr,
        annotation: Expr,
        value: Option<Expr>,
    },
    /// `if`/`elif`/`else`: the test and the branches (an `else` branch has no test).
    If {
        branches: Vec<(Option<Expr>, Vec<Stmt>)>,
    },
    /// `try`: body, `except` clauses, `else`, `finally`.
    Try {
        body: Vec<Stmt>,
        handlers: Vec<ExceptHandler>,
        orelse: Vec<Stmt>,
        finalbody: Vec<Stmt>,
    },
    /// `target op= value`.
    AugAssign {
        target: Expr,
        op: BinOp,
        value: Expr,
    },
    /// `del a, b[k]`.
    Delete(Vec<Expr>),
    /// `with a as x, b:`: each context expression with its target, then the body.
    With {
        items: Vec<(Expr, Option<Expr>)>,
        body: Vec<Stmt>,
    },
    /// A statement with nested blocks that a module-level reader does not interpret
    /// (`for`, `while`, `match`): kept so that a walk finds definitions inside.
    Block(Vec<Vec<Stmt>>),
    /// An expression statement (docstrings).
    Expr(Expr),
    /// `return` (in a function body).
    Return(Option<Expr>),
    /// `pass`.
    Pass,
    /// Anything else.
    Other,
}

/// `except Type as name:` (a bare `except:` has no type).
#[derive(Debug, Clone)]
pub(crate) struct ExceptHandler {
    pub kind: Option<Expr>,
    pub name: Option<String>,
    pub body: Vec<Stmt>,
}

/// `import a.b as c` / `from m import a as c`.
#[derive(Debug, Clone)]
pub(crate) struct Alias {
    pub name: String,
    pub asname: Option<String>,
}

/// `def` / `async def`.
#[derive(Debug, Clone)]
pub(crate) struct FunctionDef {
    pub name: String,
    pub is_async: bool,
    pub decorators: Vec<Expr>,
    pub params: Parameters,
    pub body: Vec<Stmt>,
}

/// A function's parameters in the order Python binds them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Parameters {
    pub posonly: Vec<Param>,
    pub args: Vec<Param>,
    pub vararg: Option<Param>,
    pub kwonly: Vec<Param>,
    pub kwarg: Option<Param>,
}

/// One parameter.
#[derive(Debug, Clone)]
pub(crate) struct Param {
    pub name: String,
    /// 1-based line of the parameter.
    pub line: usize,
    pub annotation: Option<Expr>,
    pub default: Option<Expr>,
}

/// `class`.
#[derive(Debug, Clone)]
pub(crate) struct ClassDef {
    pub name: String,
    pub decorators: Vec<Expr>,
    pub bases: Vec<Expr>,
    pub keywords: Vec<Keyword>,
    pub body: Vec<Stmt>,
}

/// `name=value` in a call (`name` is `None` for `**value`).
#[derive(Debug, Clone)]
pub(crate) struct Keyword {
    pub arg: Option<String>,
    pub value: Expr,
}

/// Binary operators the evaluator understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mult,
    Div,
    FloorDiv,
    Mod,
    Pow,
    BitOr,
    Other,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    NotEq,
    Lt,
    LtE,
    Gt,
    GtE,
    Is,
    IsNot,
    In,
    NotIn,
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnaryOp {
    Neg,
    Pos,
    Not,
    Invert,
}

/// A piece of an f-string.
#[derive(Debug, Clone)]
pub(crate) enum FPart {
    Literal(String),
    /// `{expr}` with its conversion (`'s'`, `'r'`, `'a'`) and whether a format spec was given.
    Expr {
        expr: Box<Expr>,
        conversion: Option<char>,
        has_spec: bool,
    },
}

/// An expression.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Name(String),
    Attribute(Box<Expr>, String),
    Call {
        func: Box<Expr>,
        args: Vec<Expr>,
        keywords: Vec<Keyword>,
    },
    Subscript(Box<Expr>, Box<Expr>),
    Tuple(Vec<Expr>),
    List(Vec<Expr>),
    Set(Vec<Expr>),
    /// `{k: v}`; a `None` key is `**mapping`.
    Dict(Vec<(Option<Expr>, Expr)>),
    Str(String),
    Bytes(Vec<u8>),
    /// An integer literal; `None` when it does not fit in an `i128`.
    Int(Option<i128>),
    Float(f64),
    Bool(bool),
    NoneLit,
    Ellipsis,
    FString(Vec<FPart>),
    BinOp(Box<Expr>, BinOp, Box<Expr>),
    UnaryOp(UnaryOp, Box<Expr>),
    Starred(Box<Expr>),
    /// `a < b <= c`: the left operand and each operator with its right operand.
    Compare(Box<Expr>, Vec<(CmpOp, Expr)>),
    /// `body if test else orelse`: test, body, orelse.
    IfExp(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `a and b and c` (`true`) / `a or b or c` (`false`).
    BoolOp(bool, Vec<Expr>),
    /// `lower:upper:step` inside a subscript.
    Slice(Option<Box<Expr>>, Option<Box<Expr>>, Option<Box<Expr>>),
    /// `lambda …` (a callable value; never JSON).
    Lambda,
    /// Anything else (comprehensions, `await`, …): evaluates to "unknown".
    Other,
}
