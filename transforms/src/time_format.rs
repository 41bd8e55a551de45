//! The part of Java's `SimpleDateFormat` that topic and timestamp patterns use, in UTC:
//! `yyyy`/`yy` (also `Y`), `MM`/`M`, `dd`/`d`, `HH`/`H`, `hh`/`h`, `mm`, `ss`, `SSS`, `a`,
//! `'quoted'` literals and `XXX`/`Z` (always UTC). Other characters are literal.

/// Days since 1970-01-01 → (year, month 1-12, day 1-31) (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// (year, month, day) → days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Field(char, usize),
    Literal(String),
}

fn tokenize(pattern: &str) -> Vec<Token> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            let end = chars[i + 1..].iter().position(|&x| x == '\'').map_or(chars.len(), |p| i + 1 + p);
            let lit: String = chars[i + 1..end].iter().collect();
            out.push(Token::Literal(if lit.is_empty() { "'".into() } else { lit }));
            i = end + 1;
        } else if c.is_ascii_alphabetic() {
            let n = chars[i..].iter().take_while(|&&x| x == c).count();
            out.push(Token::Field(c, n));
            i += n;
        } else {
            out.push(Token::Literal(c.to_string()));
            i += 1;
        }
    }
    out
}

/// Formats epoch milliseconds with `pattern`, in UTC.
pub fn format(ms: i64, pattern: &str) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (y, mo, d) = civil_from_days(days);
    let (h, mi, s, milli) = (in_day / 3_600_000, in_day / 60_000 % 60, in_day / 1000 % 60, in_day % 1000);
    let mut out = String::new();
    for t in tokenize(pattern) {
        match t {
            Token::Literal(l) => out.push_str(&l),
            Token::Field(c, n) => {
                let v: i64 = match c {
                    'y' | 'Y' | 'u' => {
                        if n == 2 {
                            y.rem_euclid(100)
                        } else {
                            y
                        }
                    }
                    'M' => mo.into(),
                    'd' => d.into(),
                    'H' => h,
                    'k' => {
                        if h == 0 {
                            24
                        } else {
                            h
                        }
                    }
                    'h' => {
                        if h % 12 == 0 {
                            12
                        } else {
                            h % 12
                        }
                    }
                    'm' => mi,
                    's' => s,
                    'S' => milli,
                    'a' => {
                        out.push_str(if h < 12 { "AM" } else { "PM" });
                        continue;
                    }
                    'X' => {
                        out.push('Z');
                        continue;
                    }
                    'Z' => {
                        out.push_str("+0000");
                        continue;
                    }
                    'z' => {
                        out.push_str("UTC");
                        continue;
                    }
                    other => {
                        out.extend(std::iter::repeat_n(other, n));
                        continue;
                    }
                };
                out.push_str(&format!("{v:0n$}"));
            }
        }
    }
    out
}

/// Parses `s` with `pattern` (UTC) into epoch milliseconds.
pub fn parse(s: &str, pattern: &str) -> Option<i64> {
    let bytes = s.as_bytes();
    let mut pos = 0;
    let (mut y, mut mo, mut d, mut h, mut mi, mut sec, mut milli, mut pm) = (1970i64, 1u32, 1u32, 0i64, 0i64, 0i64, 0i64, None);
    let tokens = tokenize(pattern);
    for (i, t) in tokens.iter().enumerate() {
        match t {
            Token::Literal(l) => {
                if !s[pos..].starts_with(l.as_str()) {
                    return None;
                }
                pos += l.len();
            }
            Token::Field('a', _) => {
                let rest = s.get(pos..pos + 2)?;
                pm = Some(rest.eq_ignore_ascii_case("PM"));
                pos += 2;
            }
            Token::Field('X' | 'Z' | 'z', _) => {
                if s[pos..].starts_with('Z') {
                    pos += 1;
                } else if s[pos..].starts_with("+00:00") || s[pos..].starts_with("UTC") {
                    pos += if s[pos..].starts_with("UTC") { 3 } else { 6 };
                } else if s[pos..].starts_with("+0000") {
                    pos += 5;
                } else {
                    return None;
                }
            }
            Token::Field(c, n) => {
                // A field directly followed by another field is fixed-width; otherwise take the digits.
                let fixed = matches!(tokens.get(i + 1), Some(Token::Field(..)));
                let neg = *c == 'y' && bytes.get(pos) == Some(&b'-');
                let start = pos + usize::from(neg);
                let mut end = start;
                while end < bytes.len() && bytes[end].is_ascii_digit() && (!fixed || end - start < *n) {
                    end += 1;
                }
                let v: i64 = s.get(start..end)?.parse().ok()?;
                let v = if neg { -v } else { v };
                pos = end;
                match c {
                    'y' | 'Y' | 'u' => y = if *n == 2 { 2000 + v } else { v },
                    'M' => mo = u32::try_from(v).ok()?,
                    'd' => d = u32::try_from(v).ok()?,
                    'H' | 'k' | 'h' => h = v,
                    'm' => mi = v,
                    's' => sec = v,
                    'S' => milli = v,
                    _ => return None,
                }
            }
        }
    }
    if pos != s.len() || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    if let Some(pm) = pm {
        h = h % 12 + if pm { 12 } else { 0 };
    }
    Some(days_from_civil(y, mo, d) * 86_400_000 + h * 3_600_000 + mi * 60_000 + sec * 1000 + milli)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_like_simple_date_format_in_utc() {
        // 2017-01-03T06:30:01.864Z
        let ms = 1_483_425_001_864;
        let cases = [
            ("yyyyMMdd", "20170103"),
            ("yyyy-MM-dd HH:mm:ss.SSS", "2017-01-03 06:30:01.864"),
            ("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "2017-01-03T06:30:01.864Z"),
            ("yy/M/d h a", "17/1/3 6 AM"),
        ];
        for (p, want) in cases {
            assert_eq!(format(ms, p), want, "{p}");
        }
        assert_eq!(parse("2017-01-03 06:30:01.864", "yyyy-MM-dd HH:mm:ss.SSS"), Some(ms));
        assert_eq!(parse("20170103", "yyyyMMdd"), Some(1_483_401_600_000));
        assert_eq!(parse("2017-01-03T06:30:01.864Z", "yyyy-MM-dd'T'HH:mm:ss.SSSXXX"), Some(ms));
        assert_eq!(parse("1969-12-31", "yyyy-MM-dd"), Some(-86_400_000));
        assert_eq!(format(-1, "yyyy-MM-dd HH:mm:ss.SSS"), "1969-12-31 23:59:59.999");
        assert_eq!(parse("nope", "yyyy"), None);
    }
}
