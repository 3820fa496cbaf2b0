//! `rules:if` expressions: `$VAR`, strings, `/regex/flags`, `null`, `==`, `!=`, `=~`, `!~`,
//! `&&` (binds tighter than `||`), `||` and parentheses, evaluated as GitLab does.

use std::collections::HashMap;

use regex::Regex;

/// A parsed `rules:if` expression.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Operand(Operand),
    Compare(Operand, Op, Operand),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone)]
pub(crate) enum Operand {
    Variable(String),
    Text(String),
    Pattern(String),
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Equal,
    NotEqual,
    Matches,
    NotMatches,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Operand(OperandToken),
    Op(Op),
    And,
    Or,
    Open,
    Close,
}

#[derive(Debug, Clone, PartialEq)]
enum OperandToken {
    Variable(String),
    Text(String),
    Pattern(String),
    Null,
}

/// Parses an expression; the error says what is wrong, without the expression itself.
pub(crate) fn parse(source: &str) -> Result<Expr, String> {
    let tokens = lex(source)?;
    let mut parser = Parser {
        tokens,
        position: 0,
    };
    let expr = parser.or()?;
    if parser.position != parser.tokens.len() {
        return Err(format!(
            "unexpected token at position {}",
            parser.position + 1
        ));
    }
    Ok(expr)
}

impl Expr {
    /// Evaluates against the job's (expanded) variables: an undefined variable is `null`.
    pub(crate) fn evaluate(&self, variables: &HashMap<String, String>) -> Result<bool, String> {
        Ok(match self {
            Self::Operand(operand) => match resolve(operand, variables) {
                Value::Null => false,
                Value::Text(text) | Value::Pattern(text) => !text.is_empty(),
            },
            Self::Compare(left, op, right) => {
                compare(resolve(left, variables), *op, resolve(right, variables))?
            }
            Self::And(left, right) => left.evaluate(variables)? && right.evaluate(variables)?,
            Self::Or(left, right) => left.evaluate(variables)? || right.evaluate(variables)?,
        })
    }
}

enum Value {
    Null,
    Text(String),
    Pattern(String),
}

fn resolve(operand: &Operand, variables: &HashMap<String, String>) -> Value {
    match operand {
        Operand::Variable(name) => variables
            .get(name)
            .map_or(Value::Null, |value| Value::Text(value.clone())),
        Operand::Text(text) => Value::Text(text.clone()),
        Operand::Pattern(pattern) => Value::Pattern(pattern.clone()),
        Operand::Null => Value::Null,
    }
}

fn compare(left: Value, op: Op, right: Value) -> Result<bool, String> {
    match op {
        Op::Equal | Op::NotEqual => {
            let equal = match (&left, &right) {
                (Value::Null, Value::Null) => true,
                (Value::Text(a) | Value::Pattern(a), Value::Text(b) | Value::Pattern(b)) => a == b,
                _ => false,
            };
            Ok(equal == (op == Op::Equal))
        }
        Op::Matches | Op::NotMatches => {
            let pattern = match right {
                Value::Pattern(pattern) => pattern,
                // A variable on the right holding `/.../flags` is used as a pattern (GitLab 15.0+).
                Value::Text(text) if text.starts_with('/') => text,
                Value::Text(_) | Value::Null => {
                    return Err("the right side of a regex match must be a /pattern/".to_owned());
                }
            };
            let matched = match left {
                Value::Text(text) | Value::Pattern(text) => compile(&pattern)?.is_match(&text),
                Value::Null => false,
            };
            Ok(matched == (op == Op::Matches))
        }
    }
}

/// Compiles `/pattern/flags` (flags among `i`, `m`, `s`, `U`, as GitLab's RE2 accepts).
fn compile(literal: &str) -> Result<Regex, String> {
    let body = literal
        .strip_prefix('/')
        .ok_or("a pattern must start with /")?;
    let end = body.rfind('/').ok_or("a pattern must end with /")?;
    let (pattern, flags) = (&body[..end], &body[end + 1..]);
    if let Some(flag) = flags
        .chars()
        .find(|flag| !matches!(flag, 'i' | 'm' | 's' | 'U'))
    {
        return Err(format!("unknown regex flag `{flag}`"));
    }
    let pattern = pattern.replace("\\/", "/");
    let full = if flags.is_empty() {
        pattern
    } else {
        format!("(?{flags}){pattern}")
    };
    Regex::new(&full).map_err(|error| format!("invalid regex {literal}: {error}"))
}

fn lex(source: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut index = 0;
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    while index < chars.len() {
        let c = chars[index];
        let next = chars.get(index + 1).copied();
        let token = match (c, next) {
            (c, _) if c.is_whitespace() => {
                index += 1;
                continue;
            }
            ('(', _) => Token::Open,
            (')', _) => Token::Close,
            ('&', Some('&')) => Token::And,
            ('|', Some('|')) => Token::Or,
            ('=', Some('=')) => Token::Op(Op::Equal),
            ('!', Some('=')) => Token::Op(Op::NotEqual),
            ('=', Some('~')) => Token::Op(Op::Matches),
            ('!', Some('~')) => Token::Op(Op::NotMatches),
            // GitLab's lexer knows `$NAME` only: `${NAME}` is invalid syntax in `rules:if`.
            ('$', Some('{')) => {
                return Err(format!(
                    "`${{` at position {}: use `$NAME`, not `${{NAME}}`",
                    index + 1
                ));
            }
            ('$', _) => {
                let length = chars[index + 1..]
                    .iter()
                    .take_while(|&&c| is_name(c))
                    .count();
                if length == 0 {
                    return Err(format!(
                        "`$` without a variable name at position {}",
                        index + 1
                    ));
                }
                let name: String = chars[index + 1..index + 1 + length].iter().collect();
                index += 1 + length;
                tokens.push(Token::Operand(OperandToken::Variable(name)));
                continue;
            }
            ('"' | '\'', _) => {
                let end = chars[index + 1..]
                    .iter()
                    .position(|&q| q == c)
                    .ok_or("unterminated string")?;
                let text: String = chars[index + 1..index + 1 + end].iter().collect();
                index += end + 2;
                tokens.push(Token::Operand(OperandToken::Text(text)));
                continue;
            }
            ('/', _) => {
                let mut end = index + 1;
                while end < chars.len() && chars[end] != '/' {
                    end += if chars[end] == '\\' { 2 } else { 1 };
                }
                if end >= chars.len() {
                    return Err("unterminated regex".to_owned());
                }
                end += 1;
                while end < chars.len() && chars[end].is_ascii_alphabetic() {
                    end += 1;
                }
                let literal: String = chars[index..end].iter().collect();
                index = end;
                tokens.push(Token::Operand(OperandToken::Pattern(literal)));
                continue;
            }
            _ if chars[index..].starts_with(&['n', 'u', 'l', 'l'])
                && !chars.get(index + 4).is_some_and(|&c| is_name(c)) =>
            {
                index += 4;
                tokens.push(Token::Operand(OperandToken::Null));
                continue;
            }
            _ => return Err(format!("unexpected `{c}` at position {}", index + 1)),
        };
        index += if matches!(token, Token::Open | Token::Close) {
            1
        } else {
            2
        };
        tokens.push(token);
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    position: usize,
}

impl Parser {
    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.eat(&Token::Or) {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.primary()?;
        while self.eat(&Token::And) {
            left = Expr::And(Box::new(left), Box::new(self.primary()?));
        }
        Ok(left)
    }

    fn primary(&mut self) -> Result<Expr, String> {
        if self.eat(&Token::Open) {
            let inner = self.or()?;
            if !self.eat(&Token::Close) {
                return Err("missing `)`".to_owned());
            }
            return Ok(inner);
        }
        let left = self.operand()?;
        if let Some(Token::Op(op)) = self.tokens.get(self.position).cloned() {
            self.position += 1;
            let right = self.operand()?;
            return Ok(Expr::Compare(left, op, right));
        }
        Ok(Expr::Operand(left))
    }

    fn operand(&mut self) -> Result<Operand, String> {
        let Some(Token::Operand(token)) = self.tokens.get(self.position).cloned() else {
            return Err(format!(
                "expected a variable, string, regex or null at token {}",
                self.position + 1
            ));
        };
        self.position += 1;
        Ok(match token {
            OperandToken::Variable(name) => Operand::Variable(name),
            OperandToken::Text(text) => Operand::Text(text),
            OperandToken::Pattern(pattern) => {
                compile(&pattern)?;
                Operand::Pattern(pattern)
            }
            OperandToken::Null => Operand::Null,
        })
    }

    fn eat(&mut self, token: &Token) -> bool {
        let found = self.tokens.get(self.position) == Some(token);
        if found {
            self.position += 1;
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(expression: &str, expected: bool) {
        let variables: HashMap<String, String> = [
            ("BRANCH", "main"),
            ("EMPTY", ""),
            ("SOURCE", "push"),
            ("TAG", "v1.2.3"),
            ("PATTERN", "/^v\\d/"),
            ("MSG", "Fix Bug\nsecond line"),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect();
        let parsed = parse(expression).unwrap_or_else(|error| panic!("{expression}: {error}"));
        let value = parsed
            .evaluate(&variables)
            .unwrap_or_else(|error| panic!("{expression}: {error}"));
        assert_eq!(value, expected, "{expression}");
    }

    #[test]
    fn operators_evaluate_as_gitlab() {
        check(r#"$BRANCH == "main""#, true);
        check(r#"$BRANCH == 'dev'"#, false);
        check(r#"$BRANCH != "dev""#, true);
        check(r#""main" == $BRANCH"#, true);
        check("$BRANCH == $BRANCH", true);
        check("$TAG =~ /^v[0-9]+/", true);
        check("$TAG !~ /^v[0-9]+/", false);
        check("$BRANCH =~ /MAIN/", false);
        check("$BRANCH =~ /MAIN/i", true);
        check("$MSG =~ /^second/", false);
        check("$MSG =~ /^second/m", true);
        check("$MSG =~ /bug.second/is", true);
        check("$TAG =~ $PATTERN", true);
        check(r"$TAG =~ /v1\/2/", false);
        check("$UNDEFINED =~ /x/", false);
        check("$UNDEFINED !~ /x/", true);
    }

    #[test]
    fn truthiness_and_null() {
        check("$BRANCH", true);
        check("$EMPTY", false);
        check("$UNDEFINED", false);
        check("$UNDEFINED == null", true);
        check("$EMPTY == null", false);
        check(r#"$EMPTY == """#, true);
        check("$BRANCH != null", true);
    }

    #[test]
    fn and_binds_tighter_than_or_and_parentheses_group() {
        // true || (false && false) = true; (true || false) && false = false.
        check(
            r#"$BRANCH == "main" || $SOURCE == "web" && $TAG == "x""#,
            true,
        );
        check(
            r#"($BRANCH == "main" || $SOURCE == "web") && $TAG == "x""#,
            false,
        );
        check(r#"$SOURCE == "web" && $TAG == "x" || $BRANCH"#, true);
        check(
            r#"$UNDEFINED || ($EMPTY || $SOURCE == "push") && $BRANCH"#,
            true,
        );
    }

    #[test]
    fn malformed_expressions_are_errors() {
        for bad in [
            "$A ==",
            "($A",
            "$A = 'x'",
            "'open",
            "$A =~ /x/q",
            "$A =~ /(/",
            "$A $B",
            "$",
            "${A} == \"x\"",
        ] {
            assert!(parse(bad).is_err(), "{bad} should not parse");
        }
        let parsed = parse("$BRANCH =~ 'main'").expect("parses");
        assert!(
            parsed
                .evaluate(&HashMap::from([("BRANCH".into(), "main".into())]))
                .is_err()
        );
    }
}
