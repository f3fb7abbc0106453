//! A bounded reader of Python literals, as `ast.literal_eval` reads them (CPython 3.11): the
//! tokenizer's rules for blank lines, indentation, comments, continuation lines, numbers (with
//! `_`, bases, leading-zero rules), strings (every prefix, escapes, implicit concatenation), and
//! `literal_eval`'s node rules (containers, `set()`, signed numbers, `int ± complex`). Dicts keep
//! Python's duplicate-key rule (the last value wins, the first key stays).
//!
//! numpy reads `.npy` headers with it; for format versions 1 and 2, a header that fails to parse
//! is re-read with Python 2's `L` suffix dropped after numbers (`_filter_header`), which
//! [`Options::long_suffix`] reproduces.

use std::fmt;

/// Bracket nesting the CPython tokenizer accepts (`MAXLEVEL`).
const MAX_NESTING: usize = 200;

/// A Python value a literal evaluates to.
#[derive(Debug, Clone)]
pub enum Value {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An int; `None` when it does not fit in an `i128` (Python ints are unbounded).
    Int(Option<i128>),
    /// A float.
    Float(f64),
    /// A complex number (real, imaginary).
    Complex(f64, f64),
    /// A `str`.
    Str(String),
    /// A `bytes`.
    Bytes(Vec<u8>),
    /// `...`.
    Ellipsis,
    /// A tuple.
    Tuple(Vec<Value>),
    /// A list.
    List(Vec<Value>),
    /// A set (elements deduplicated as Python does).
    Set(Vec<Value>),
    /// A dict in insertion order (duplicate keys resolved as Python does).
    Dict(Vec<(Value, Value)>),
}

impl Value {
    /// The string, when this is a `str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    fn hashable(&self) -> bool {
        match self {
            Value::List(_) | Value::Dict(_) | Value::Set(_) => false,
            Value::Tuple(items) => items.iter().all(Value::hashable),
            _ => true,
        }
    }

    /// Numeric view for equality between bool, int, float and complex (`1 == 1.0 == True`).
    fn number(&self) -> Option<(f64, f64, Option<i128>)> {
        match self {
            Value::Bool(b) => Some((f64::from(u8::from(*b)), 0.0, Some(i128::from(*b)))),
            Value::Int(Some(n)) => Some((*n as f64, 0.0, Some(*n))),
            Value::Float(f) => Some((*f, 0.0, None)),
            Value::Complex(re, im) => Some((*re, *im, None)),
            _ => None,
        }
    }

    /// Python `==` for hashable values (what dict keys and set elements are compared with).
    pub fn py_eq(&self, other: &Value) -> bool {
        if let (Some(a), Some(b)) = (self.number(), other.number()) {
            return match (a.2, b.2) {
                (Some(x), Some(y)) => x == y,
                _ => a.0 == b.0 && a.1 == b.1,
            };
        }
        match (self, other) {
            (Value::None, Value::None) | (Value::Ellipsis, Value::Ellipsis) => true,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Bytes(a), Value::Bytes(b)) => a == b,
            (Value::Tuple(a), Value::Tuple(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.py_eq(y))
            }
            _ => false,
        }
    }
}

/// Why a text is not a literal `ast.literal_eval` accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiteralError(pub String);

impl fmt::Display for LiteralError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, LiteralError> {
    Err(LiteralError(msg.into()))
}

/// Reading options.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Read as numpy's `_filter_header` fallback for format versions 1 and 2 leaves the text:
    /// a name token `L` right after a number dropped, a last line of whitespace dropped.
    pub long_suffix: bool,
}

/// A parsed literal, and whether a part of it could not be decoded exactly (a `\N{…}` escape
/// naming a character outside the table here: its character is replaced by U+FFFD).
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The value.
    pub value: Value,
    /// A `\N{…}` name was not resolved.
    pub uncertain: bool,
}

/// Evaluates `text` as `ast.literal_eval(text)` does.
pub fn literal_eval(text: &str, options: Options) -> Result<Parsed, LiteralError> {
    if text.contains('\0') {
        return err("source code string cannot contain null bytes");
    }
    // literal_eval strips leading spaces and tabs; the tokenizer reads universal newlines.
    let text = text
        .trim_start_matches([' ', '\t'])
        .replace("\r\n", "\n")
        .replace('\r', "\n");
    let mut lexer = Lexer {
        chars: text.chars().collect(),
        pos: 0,
        options,
        uncertain: false,
    };
    let tokens = lexer.tokens()?;
    let mut parser = Parser {
        tokens: &tokens,
        pos: 0,
        depth: 0,
    };
    let mut node = parser.expression()?;
    // Eval mode reads an expression list: `2, 3` is a tuple.
    if parser.is_op(",") {
        let mut items = vec![node];
        while parser.is_op(",") {
            parser.pos += 1;
            if matches!(parser.peek(), Tok::End) {
                break;
            }
            items.push(parser.expression()?);
        }
        node = Node::Tuple(items);
    }
    if !matches!(parser.peek(), Tok::End) {
        return err("invalid syntax: text after the literal");
    }
    Ok(Parsed {
        value: convert(&node)?,
        uncertain: lexer.uncertain,
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Int(Option<i128>),
    Float(f64),
    Imag(f64),
    Str(String),
    Bytes(Vec<u8>),
    /// An f-string: never a literal.
    FString,
    Name(String),
    Op(&'static str),
    End,
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
    options: Options,
    uncertain: bool,
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || (!c.is_ascii() && c.is_alphanumeric())
}

fn is_ident(c: char) -> bool {
    is_ident_start(c) || c.is_ascii_digit()
}

impl Lexer {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    /// The whole token stream of one logical line (an expression statement in eval mode).
    fn tokens(&mut self) -> Result<Vec<Tok>, LiteralError> {
        let mut out: Vec<Tok> = Vec::new();
        let mut depth = 0usize;
        let mut line_start = true;
        let mut done = false; // the logical line ended (NEWLINE seen)
        // The header filter drops `L` only right after a number token (no NL or comment between).
        let mut after_number = false;
        loop {
            let before = out.len();
            if line_start && depth == 0 {
                // Indentation of a new physical line.
                let mut col = 0usize;
                while let Some(c) = self.peek(0) {
                    match c {
                        ' ' => col += 1,
                        '\t' => col = (col / 8 + 1) * 8,
                        '\x0c' => col = 0,
                        _ => break,
                    }
                    self.pos += 1;
                }
                match self.peek(0) {
                    Some('#') => {
                        self.skip_comment();
                        continue;
                    }
                    Some('\n') => {
                        self.pos += 1;
                        continue;
                    }
                    Some('\\') if self.peek(1) == Some('\n') => {
                        self.pos += 2;
                        continue;
                    }
                    None => {
                        // numpy's header filter round-trips through `tokenize`, which drops a
                        // last line of whitespace (an indentation error for the parser).
                        if col > 0 && !(self.options.long_suffix && done) {
                            return err("unexpected indent");
                        }
                        break;
                    }
                    Some(_) => {
                        if done {
                            return err("invalid syntax: a second line");
                        }
                        if col > 0 {
                            return err("unexpected indent");
                        }
                        line_start = false;
                    }
                }
            }
            let Some(c) = self.peek(0) else {
                if depth > 0 {
                    return err("unexpected EOF: unclosed bracket");
                }
                break;
            };
            match c {
                ' ' | '\t' | '\x0c' => self.pos += 1,
                '#' => {
                    self.skip_comment();
                    after_number = false;
                }
                '\\' => {
                    if self.peek(1) != Some('\n') {
                        return err("unexpected character after line continuation character");
                    }
                    self.pos += 2;
                    if self.peek(0).is_none() {
                        return err("unexpected EOF while parsing");
                    }
                }
                '\n' => {
                    self.pos += 1;
                    after_number = false;
                    if depth == 0 {
                        done = true;
                        line_start = true;
                    }
                }
                '(' | '[' | '{' => {
                    depth += 1;
                    if depth > MAX_NESTING {
                        return err("too many nested parentheses");
                    }
                    self.pos += 1;
                    out.push(Tok::Op(match c {
                        '(' => "(",
                        '[' => "[",
                        _ => "{",
                    }));
                }
                ')' | ']' | '}' => {
                    if depth == 0 {
                        return err(format!("unmatched '{c}'"));
                    }
                    depth -= 1;
                    self.pos += 1;
                    out.push(Tok::Op(match c {
                        ')' => ")",
                        ']' => "]",
                        _ => "}",
                    }));
                }
                ',' | ':' | '+' | '-' => {
                    self.pos += 1;
                    out.push(Tok::Op(match c {
                        ',' => ",",
                        ':' => ":",
                        '+' => "+",
                        _ => "-",
                    }));
                }
                '.' if self.peek(1).is_some_and(|d| d.is_ascii_digit()) => {
                    let tok = self.number()?;
                    out.push(tok);
                }
                '.' if self.peek(1) == Some('.') && self.peek(2) == Some('.') => {
                    self.pos += 3;
                    out.push(Tok::Op("..."));
                }
                '0'..='9' => {
                    let tok = self.number()?;
                    out.push(tok);
                }
                '\'' | '"' => {
                    let tok = self.string("")?;
                    out.push(tok);
                }
                c if is_ident_start(c) => {
                    let start = self.pos;
                    while self.peek(0).is_some_and(is_ident) {
                        self.pos += 1;
                    }
                    let word: String = self.chars[start..self.pos].iter().collect();
                    if matches!(self.peek(0), Some('\'' | '"')) && is_prefix(&word) {
                        let tok = self.string(&word)?;
                        out.push(tok);
                    } else if word == "L" && self.options.long_suffix && after_number {
                        // Python 2's long suffix, dropped by numpy's header filter.
                        after_number = false;
                        continue;
                    } else {
                        out.push(Tok::Name(word));
                    }
                }
                other => return err(format!("invalid character {other:?} in a literal")),
            }
            if out.len() > before {
                after_number =
                    matches!(out.last(), Some(Tok::Int(_) | Tok::Float(_) | Tok::Imag(_)));
            }
        }
        out.push(Tok::End);
        Ok(out)
    }

    fn skip_comment(&mut self) {
        while self.peek(0).is_some_and(|c| c != '\n') {
            self.pos += 1;
        }
    }

    /// Digits with single underscores between them; returns the digits without underscores.
    fn digits(&mut self, radix: u32) -> Result<String, LiteralError> {
        let mut out = String::new();
        loop {
            match self.peek(0) {
                Some(c) if c.is_digit(radix) => {
                    out.push(c);
                    self.pos += 1;
                }
                Some('_') if !out.is_empty() => {
                    if !self.peek(1).is_some_and(|c| c.is_digit(radix)) {
                        return err("invalid decimal literal");
                    }
                    self.pos += 1;
                }
                _ => return Ok(out),
            }
        }
    }

    fn number(&mut self) -> Result<Tok, LiteralError> {
        let tok = self.number_body()?;
        // A number directly followed by a name character is not a literal (CPython: "invalid
        // decimal literal"), except Python 2's `L`, which the header filter drops.
        if self.peek(0).is_some_and(is_ident)
            && !(self.options.long_suffix
                && self.peek(0) == Some('L')
                && !self.peek(1).is_some_and(is_ident))
        {
            return err("invalid decimal literal");
        }
        Ok(tok)
    }

    fn number_body(&mut self) -> Result<Tok, LiteralError> {
        if self.peek(0) == Some('0') {
            let radix = match self.peek(1) {
                Some('x' | 'X') => Some(16),
                Some('o' | 'O') => Some(8),
                Some('b' | 'B') => Some(2),
                _ => None,
            };
            if let Some(radix) = radix {
                self.pos += 2;
                if self.peek(0) == Some('_') {
                    self.pos += 1;
                }
                let digits = self.digits(radix)?;
                if digits.is_empty() || self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                    return err("invalid digit in a based literal");
                }
                return Ok(Tok::Int(i128::from_str_radix(&digits, radix).ok()));
            }
        }
        let int_part = if self.peek(0) == Some('.') {
            String::new()
        } else {
            self.digits(10)?
        };
        let mut text = int_part.clone();
        let mut float = false;
        if self.peek(0) == Some('.') {
            float = true;
            self.pos += 1;
            text.push('.');
            if self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                text.push_str(&self.digits(10)?);
            }
        }
        if matches!(self.peek(0), Some('e' | 'E')) {
            let sign = matches!(self.peek(1), Some('+' | '-'));
            let digit_at = if sign { 2 } else { 1 };
            if !self.peek(digit_at).is_some_and(|c| c.is_ascii_digit()) {
                return err("invalid decimal literal");
            }
            float = true;
            text.push('e');
            if sign {
                text.push(self.peek(1).unwrap_or('+'));
            }
            self.pos += digit_at;
            text.push_str(&self.digits(10)?);
        }
        let value: f64 = if text.starts_with('.') {
            format!("0{text}").parse().unwrap_or(f64::NAN)
        } else {
            text.parse().unwrap_or(f64::NAN)
        };
        if matches!(self.peek(0), Some('j' | 'J')) {
            self.pos += 1;
            return Ok(Tok::Imag(value));
        }
        if float {
            return Ok(Tok::Float(value));
        }
        if int_part.len() > 1 && int_part.starts_with('0') && int_part.chars().any(|c| c != '0') {
            return err("leading zeros in decimal integer literals are not permitted");
        }
        Ok(Tok::Int(int_part.parse::<i128>().ok()))
    }

    fn string(&mut self, prefix: &str) -> Result<Tok, LiteralError> {
        let lower = prefix.to_ascii_lowercase();
        let raw = lower.contains('r');
        let bytes = lower.contains('b');
        let fstring = lower.contains('f');
        let Some(quote) = self.peek(0) else {
            return err("unterminated string literal");
        };
        let triple = self.peek(1) == Some(quote) && self.peek(2) == Some(quote);
        self.pos += if triple { 3 } else { 1 };
        let mut out: Vec<char> = Vec::new();
        loop {
            let Some(c) = self.peek(0) else {
                return err("unterminated string literal");
            };
            if c == quote {
                if !triple {
                    self.pos += 1;
                    break;
                }
                if self.peek(1) == Some(quote) && self.peek(2) == Some(quote) {
                    self.pos += 3;
                    break;
                }
            }
            if c == '\n' && !triple {
                return err("unterminated string literal");
            }
            if bytes && !c.is_ascii() {
                return err("bytes can only contain ASCII literal characters");
            }
            self.pos += 1;
            if c != '\\' {
                out.push(c);
                continue;
            }
            let Some(next) = self.peek(0) else {
                return err("unterminated string literal");
            };
            if raw {
                out.push('\\');
                out.push(next);
                self.pos += 1;
                continue;
            }
            self.pos += 1;
            match next {
                '\n' => {}
                '\\' | '\'' | '"' => out.push(next),
                'a' => out.push('\x07'),
                'b' => out.push('\x08'),
                'f' => out.push('\x0c'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'v' => out.push('\x0b'),
                '0'..='7' => {
                    let mut value = next.to_digit(8).unwrap_or(0);
                    for _ in 0..2 {
                        match self.peek(0).and_then(|d| d.to_digit(8)) {
                            Some(d) => {
                                value = value * 8 + d;
                                self.pos += 1;
                            }
                            None => break,
                        }
                    }
                    if bytes {
                        value &= 0xff;
                    }
                    out.push(char::from_u32(value).unwrap_or('\u{fffd}'));
                }
                'x' => out.push(self.hex_escape(2)?),
                'u' if !bytes => out.push(self.hex_escape(4)?),
                'U' if !bytes => out.push(self.hex_escape(8)?),
                'N' if !bytes => {
                    if self.peek(0) != Some('{') {
                        return err("malformed \\N character escape");
                    }
                    let start = self.pos + 1;
                    let Some(len) = self.chars[start..].iter().position(|&c| c == '}') else {
                        return err("malformed \\N character escape");
                    };
                    let name: String = self.chars[start..start + len].iter().collect();
                    self.pos = start + len + 1;
                    if name.is_empty() {
                        return err("malformed \\N character escape");
                    }
                    match char_by_name(&name) {
                        Some(c) => out.push(c),
                        None if name.is_ascii() && name.len() < 100 => {
                            self.uncertain = true;
                            out.push('\u{fffd}');
                        }
                        None => return err("unknown Unicode character name"),
                    }
                }
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
        }
        if fstring {
            return Ok(Tok::FString);
        }
        if bytes {
            return Ok(Tok::Bytes(out.iter().map(|&c| c as u32 as u8).collect()));
        }
        Ok(Tok::Str(out.into_iter().collect()))
    }

    fn hex_escape(&mut self, len: usize) -> Result<char, LiteralError> {
        let mut value = 0u32;
        for _ in 0..len {
            let Some(d) = self.peek(0).and_then(|c| c.to_digit(16)) else {
                return err("truncated escape sequence");
            };
            value = value * 16 + d;
            self.pos += 1;
        }
        char::from_u32(value).ok_or_else(|| LiteralError("illegal Unicode character".into()))
    }
}

fn is_prefix(word: &str) -> bool {
    matches!(
        word.to_ascii_lowercase().as_str(),
        "r" | "u" | "b" | "br" | "rb" | "f" | "fr" | "rf"
    )
}

/// Characters named in `\N{…}` escapes that a dtype string or a header key can use: ASCII by its
/// Unicode name (case-insensitive), and the control characters numpy reads as type numbers, with
/// their aliases. Other names leave the value uncertain (fail closed).
fn char_by_name(name: &str) -> Option<char> {
    let upper = name.to_ascii_uppercase();
    if let Some(letter) = upper.strip_prefix("LATIN CAPITAL LETTER ")
        && letter.len() == 1
    {
        return letter.chars().next().filter(char::is_ascii_uppercase);
    }
    if let Some(letter) = upper.strip_prefix("LATIN SMALL LETTER ")
        && letter.len() == 1
    {
        return letter
            .chars()
            .next()
            .filter(char::is_ascii_uppercase)
            .map(|c| c.to_ascii_lowercase());
    }
    const DIGITS: [&str; 10] = [
        "ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE",
    ];
    if let Some(digit) = upper.strip_prefix("DIGIT ") {
        let i = DIGITS.iter().position(|d| *d == digit)?;
        return char::from_digit(i as u32, 10);
    }
    const NAMED: &[(&str, char)] = &[
        ("SPACE", ' '),
        ("SP", ' '),
        ("EXCLAMATION MARK", '!'),
        ("QUOTATION MARK", '"'),
        ("NUMBER SIGN", '#'),
        ("DOLLAR SIGN", '$'),
        ("PERCENT SIGN", '%'),
        ("AMPERSAND", '&'),
        ("APOSTROPHE", '\''),
        ("LEFT PARENTHESIS", '('),
        ("RIGHT PARENTHESIS", ')'),
        ("ASTERISK", '*'),
        ("PLUS SIGN", '+'),
        ("COMMA", ','),
        ("HYPHEN-MINUS", '-'),
        ("FULL STOP", '.'),
        ("SOLIDUS", '/'),
        ("COLON", ':'),
        ("SEMICOLON", ';'),
        ("LESS-THAN SIGN", '<'),
        ("EQUALS SIGN", '='),
        ("GREATER-THAN SIGN", '>'),
        ("QUESTION MARK", '?'),
        ("COMMERCIAL AT", '@'),
        ("LEFT SQUARE BRACKET", '['),
        ("REVERSE SOLIDUS", '\\'),
        ("RIGHT SQUARE BRACKET", ']'),
        ("CIRCUMFLEX ACCENT", '^'),
        ("LOW LINE", '_'),
        ("GRAVE ACCENT", '`'),
        ("LEFT CURLY BRACKET", '{'),
        ("VERTICAL LINE", '|'),
        ("RIGHT CURLY BRACKET", '}'),
        ("TILDE", '~'),
        ("NULL", '\0'),
        ("NUL", '\0'),
        ("CHARACTER TABULATION", '\t'),
        ("HORIZONTAL TABULATION", '\t'),
        ("HT", '\t'),
        ("TAB", '\t'),
        ("LINE FEED", '\n'),
        ("NEW LINE", '\n'),
        ("END OF LINE", '\n'),
        ("LF", '\n'),
        ("NL", '\n'),
        ("EOL", '\n'),
        ("LINE TABULATION", '\x0b'),
        ("VERTICAL TABULATION", '\x0b'),
        ("VT", '\x0b'),
        ("FORM FEED", '\x0c'),
        ("FF", '\x0c'),
        ("CARRIAGE RETURN", '\r'),
        ("CR", '\r'),
        ("DEVICE CONTROL ONE", '\x11'),
        ("DC1", '\x11'),
        ("DELETE", '\x7f'),
        ("DEL", '\x7f'),
        ("NO-BREAK SPACE", '\u{a0}'),
        ("NBSP", '\u{a0}'),
    ];
    NAMED.iter().find(|(n, _)| *n == upper).map(|(_, c)| *c)
}

/// Syntax tree of the expression, before `literal_eval`'s checks.
#[derive(Debug)]
enum Node {
    Const(Value),
    Tuple(Vec<Node>),
    List(Vec<Node>),
    Set(Vec<Node>),
    Dict(Vec<(Node, Node)>),
    EmptySetCall,
    Unary(bool, Box<Node>),
    Binary(bool, Box<Node>, Box<Node>),
    /// Syntactically valid but never a literal (a name, an f-string, a call).
    NotLiteral(String),
}

struct Parser<'a> {
    tokens: &'a [Tok],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        self.tokens.get(self.pos).unwrap_or(&Tok::End)
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(o) if *o == op)
    }

    fn expect(&mut self, op: &str) -> Result<(), LiteralError> {
        if self.is_op(op) {
            self.pos += 1;
            Ok(())
        } else {
            err(format!("invalid syntax: '{op}' expected"))
        }
    }

    fn enter(&mut self) -> Result<(), LiteralError> {
        self.depth += 1;
        if self.depth > 2 * MAX_NESTING {
            return err("too many nested parentheses");
        }
        Ok(())
    }

    fn expression(&mut self) -> Result<Node, LiteralError> {
        self.enter()?;
        let mut left = self.unary()?;
        while self.is_op("+") || self.is_op("-") {
            let plus = self.is_op("+");
            self.pos += 1;
            let right = self.unary()?;
            left = Node::Binary(plus, Box::new(left), Box::new(right));
        }
        self.depth -= 1;
        Ok(left)
    }

    fn unary(&mut self) -> Result<Node, LiteralError> {
        if self.is_op("+") || self.is_op("-") {
            let plus = self.is_op("+");
            self.pos += 1;
            self.enter()?;
            let operand = self.unary()?;
            self.depth -= 1;
            return Ok(Node::Unary(plus, Box::new(operand)));
        }
        let atom = self.atom()?;
        // Trailers (calls, subscripts) make an expression that is not a literal; attribute
        // access was already refused by the lexer.
        if self.is_op("(") || self.is_op("[") {
            return err("malformed node or string: call or subscript");
        }
        Ok(atom)
    }

    fn atom(&mut self) -> Result<Node, LiteralError> {
        let tok = self.peek().clone();
        self.pos += 1;
        Ok(match tok {
            Tok::Int(n) => Node::Const(Value::Int(n)),
            Tok::Float(f) => Node::Const(Value::Float(f)),
            Tok::Imag(f) => Node::Const(Value::Complex(0.0, f)),
            Tok::Str(_) | Tok::Bytes(_) | Tok::FString => {
                self.pos -= 1;
                self.strings()?
            }
            Tok::Name(name) => match name.as_str() {
                "True" => Node::Const(Value::Bool(true)),
                "False" => Node::Const(Value::Bool(false)),
                "None" => Node::Const(Value::None),
                "set" if self.is_op("(") => {
                    self.pos += 1;
                    self.expect(")")?;
                    Node::EmptySetCall
                }
                _ => Node::NotLiteral(format!("name `{name}`")),
            },
            Tok::Op("...") => Node::Const(Value::Ellipsis),
            Tok::Op("(") => self.paren()?,
            Tok::Op("[") => Node::List(self.items("]")?),
            Tok::Op("{") => self.brace()?,
            Tok::Op(op) => return err(format!("invalid syntax at '{op}'")),
            Tok::End => return err("unexpected EOF while parsing"),
        })
    }

    /// Adjacent string literals, concatenated.
    fn strings(&mut self) -> Result<Node, LiteralError> {
        let mut text: Option<String> = None;
        let mut bytes: Option<Vec<u8>> = None;
        let mut fstring = false;
        loop {
            match self.peek() {
                Tok::Str(s) => {
                    if bytes.is_some() {
                        return err("cannot mix bytes and nonbytes literals");
                    }
                    text.get_or_insert_with(String::new).push_str(s);
                }
                Tok::FString => {
                    if bytes.is_some() {
                        return err("cannot mix bytes and nonbytes literals");
                    }
                    fstring = true;
                    text.get_or_insert_with(String::new);
                }
                Tok::Bytes(b) => {
                    if text.is_some() {
                        return err("cannot mix bytes and nonbytes literals");
                    }
                    bytes.get_or_insert_with(Vec::new).extend_from_slice(b);
                }
                _ => break,
            }
            self.pos += 1;
        }
        Ok(match (fstring, text, bytes) {
            (true, _, _) => Node::NotLiteral("an f-string".into()),
            (false, Some(text), _) => Node::Const(Value::Str(text)),
            (false, None, Some(bytes)) => Node::Const(Value::Bytes(bytes)),
            (false, None, None) => return err("invalid syntax"),
        })
    }

    /// Comma-separated expressions up to `close`; trailing comma allowed.
    fn items(&mut self, close: &str) -> Result<Vec<Node>, LiteralError> {
        let mut out = Vec::new();
        while !self.is_op(close) {
            out.push(self.expression()?);
            if !self.is_op(",") {
                break;
            }
            self.pos += 1;
        }
        self.expect(close)?;
        Ok(out)
    }

    fn paren(&mut self) -> Result<Node, LiteralError> {
        if self.is_op(")") {
            self.pos += 1;
            return Ok(Node::Tuple(Vec::new()));
        }
        let first = self.expression()?;
        if self.is_op(")") {
            self.pos += 1;
            return Ok(first);
        }
        self.expect(",")?;
        let mut items = vec![first];
        items.extend(self.items(")")?);
        Ok(Node::Tuple(items))
    }

    fn brace(&mut self) -> Result<Node, LiteralError> {
        if self.is_op("}") {
            self.pos += 1;
            return Ok(Node::Dict(Vec::new()));
        }
        let first = self.expression()?;
        if !self.is_op(":") {
            let mut items = vec![first];
            if self.is_op(",") {
                self.pos += 1;
                items.extend(self.items("}")?);
            } else {
                self.expect("}")?;
            }
            return Ok(Node::Set(items));
        }
        self.pos += 1;
        let mut pairs = vec![(first, self.expression()?)];
        while self.is_op(",") {
            self.pos += 1;
            if self.is_op("}") {
                break;
            }
            let key = self.expression()?;
            self.expect(":")?;
            pairs.push((key, self.expression()?));
        }
        self.expect("}")?;
        Ok(Node::Dict(pairs))
    }
}

fn malformed<T>(what: &str) -> Result<T, LiteralError> {
    err(format!("malformed node or string: {what}"))
}

/// `literal_eval`'s `_convert`.
fn convert(node: &Node) -> Result<Value, LiteralError> {
    match node {
        Node::Const(v) => Ok(v.clone()),
        Node::Tuple(items) => Ok(Value::Tuple(
            items.iter().map(convert).collect::<Result<_, _>>()?,
        )),
        Node::List(items) => Ok(Value::List(
            items.iter().map(convert).collect::<Result<_, _>>()?,
        )),
        Node::Set(items) => {
            let mut out: Vec<Value> = Vec::new();
            for item in items {
                let v = convert(item)?;
                if !v.hashable() {
                    return err("unhashable set element");
                }
                if !out.iter().any(|o| o.py_eq(&v)) {
                    out.push(v);
                }
            }
            Ok(Value::Set(out))
        }
        Node::EmptySetCall => Ok(Value::Set(Vec::new())),
        Node::Dict(pairs) => {
            // Python evaluates every key, then every value, then inserts pairwise.
            let keys: Vec<Value> = pairs
                .iter()
                .map(|(k, _)| convert(k))
                .collect::<Result<_, _>>()?;
            let values: Vec<Value> = pairs
                .iter()
                .map(|(_, v)| convert(v))
                .collect::<Result<_, _>>()?;
            let mut out: Vec<(Value, Value)> = Vec::new();
            for (k, v) in keys.into_iter().zip(values) {
                if !k.hashable() {
                    return err("unhashable dict key");
                }
                match out.iter_mut().find(|(ek, _)| ek.py_eq(&k)) {
                    Some(entry) => entry.1 = v,
                    None => out.push((k, v)),
                }
            }
            Ok(Value::Dict(out))
        }
        Node::Binary(plus, left, right) => {
            let l = signed_number(left)?;
            let r = number(right)?;
            let real = match l {
                Value::Int(Some(n)) => n as f64,
                Value::Int(None) => f64::INFINITY,
                Value::Float(f) => f,
                _ => return malformed("binary operation"),
            };
            let Value::Complex(re, im) = r else {
                return malformed("binary operation");
            };
            Ok(if *plus {
                Value::Complex(real + re, im)
            } else {
                Value::Complex(real - re, -im)
            })
        }
        Node::Unary(..) => signed_number(node),
        Node::NotLiteral(what) => malformed(what),
    }
}

fn number(node: &Node) -> Result<Value, LiteralError> {
    match node {
        Node::Const(v @ (Value::Int(_) | Value::Float(_) | Value::Complex(..))) => Ok(v.clone()),
        _ => malformed("not a number"),
    }
}

fn signed_number(node: &Node) -> Result<Value, LiteralError> {
    let Node::Unary(plus, operand) = node else {
        return number(node);
    };
    let v = number(operand)?;
    if *plus {
        return Ok(v);
    }
    Ok(match v {
        Value::Int(n) => Value::Int(n.and_then(i128::checked_neg)),
        Value::Float(f) => Value::Float(-f),
        Value::Complex(re, im) => Value::Complex(-re, -im),
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(text: &str) -> Result<Value, LiteralError> {
        literal_eval(text, Options::default()).map(|p| p.value)
    }

    fn ok(text: &str) -> bool {
        eval(text).is_ok()
    }

    #[test]
    fn strings_escapes_and_concatenation() {
        let s = |t: &str| eval(t).ok().and_then(|v| v.as_str().map(str::to_string));
        assert_eq!(s("'a' \"b\" '''c'''").as_deref(), Some("abc"));
        assert_eq!(s("('|'\n  'O')").as_deref(), Some("|O"));
        assert_eq!(s(r"'\x4f'").as_deref(), Some("O"));
        assert_eq!(s(r"'\117'").as_deref(), Some("O"));
        assert_eq!(s(r"'\u004f'").as_deref(), Some("O"));
        assert_eq!(s(r"'\N{latin capital letter o}'").as_deref(), Some("O"));
        assert_eq!(s(r"'\N{DC1}'").as_deref(), Some("\x11"));
        assert_eq!(s(r"'\q'").as_deref(), Some("\\q"));
        assert_eq!(s(r"r'\x'").as_deref(), Some("\\x"));
        assert_eq!(s("'a\\\nb'").as_deref(), Some("ab"));
        assert_eq!(s("U'O'").as_deref(), Some("O"));
        assert!(matches!(eval("Rb'x'"), Ok(Value::Bytes(b)) if b == b"x"));
        for bad in [
            "'a' b'b'",
            "f'a'",
            "ur'x'",
            r"'\x4'",
            r"'\u00'",
            "'a\rb'",
            "'abc",
            "b'\u{e9}'",
        ] {
            assert!(!ok(bad), "{bad:?}");
        }
    }

    #[test]
    fn numbers_as_python_reads_them() {
        for (text, good) in [
            ("1_0", true),
            ("0_0", true),
            ("00", true),
            ("01", false),
            ("0x_1", true),
            ("1__0", false),
            ("1_", false),
            ("1.e5", true),
            ("1e", false),
            (".5j", true),
            ("01.5", true),
            ("01j", true),
            ("0b102", false),
            ("-1", true),
            ("--1", false),
            ("-(1)", true),
            ("1+2j", true),
            ("1+2", false),
            ("True+1j", false),
            ("-True", false),
            ("3L", false),
        ] {
            assert_eq!(ok(text), good, "{text:?}");
        }
        let long = Options { long_suffix: true };
        assert!(literal_eval("(3L, 4 L)", long).is_ok());
        assert!(literal_eval("(3LL,)", long).is_err());
    }

    #[test]
    fn lines_and_indentation() {
        for (text, good) in [
            ("\n1", true),
            ("\n  1", false),
            ("#c\n1", true),
            ("\x0c1", true),
            ("1\n\n  ", false),
            ("1\n  \n", true),
            ("1\n  #c", true),
            ("1;", false),
            ("1\n2", false),
            ("1 \\\n", false),
            ("1 \\\n  ", true),
            ("\\\n1", true),
            ("  \t1", true),
            ("1\r\n  \r\n", true),
            ("(1\n)", true),
            ("\x0b1", false),
            (" \x0c 1", false),
            ("1 # x", true),
            ("{'a': 1}['a']", false),
            ("set()", true),
            ("set(1)", false),
            ("Ellipsis", false),
            ("...", true),
            ("{1:2,3}", false),
            ("(,)", false),
            ("1\0", false),
        ] {
            assert_eq!(ok(text), good, "{text:?}");
        }
    }

    #[test]
    fn duplicate_keys_last_value_wins() {
        let Ok(Value::Dict(pairs)) = eval("{'descr': '<f4', 'a': 1, 'descr': '|O', 1: 2, True: 3}")
        else {
            panic!("not a dict");
        };
        assert_eq!(pairs.len(), 3);
        assert_eq!(pairs[0].1.as_str(), Some("|O"));
        assert!(matches!(
            pairs[2],
            (Value::Int(Some(1)), Value::Int(Some(3)))
        ));
        assert!(!ok("{[1]: 2}"));
        assert!(!ok("{1, [2]}"));
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}1{}", "(".repeat(150), ")".repeat(150));
        assert!(ok(&deep));
        let deeper = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
        assert!(!ok(&deeper));
    }
}
