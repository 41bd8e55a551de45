//! Byte-slice equality for the guest: where [`super::encode_against`] finds the values a
//! transform left as they were, and where decoding skips a name it already holds.

/// Two 64-byte chunks alike, as two 32-byte ones.
#[inline(always)]
fn same_64(x: &[u8], y: &[u8]) -> bool {
    same_32(&x[..32], &y[..32]) && same_32(&x[32..64], &y[32..64])
}

/// Two 32-byte chunks alike, as four word compares.
#[inline(always)]
fn same_32(x: &[u8], y: &[u8]) -> bool {
    ((word(x, 0) ^ word(y, 0)) | (word(x, 8) ^ word(y, 8)) | (word(x, 16) ^ word(y, 16)) | (word(x, 24) ^ word(y, 24))) == 0
}

/// Eight bytes from `c[i..]` as one load (a closure or per-byte indexing is not always
/// inlined into one in WASM).
#[inline(always)]
fn word(c: &[u8], i: usize) -> u64 {
    let mut w = [0; 8];
    w.copy_from_slice(&c[i..i + 8]);
    u64::from_le_bytes(w)
}

/// `a == b` without calling `memcmp`: in a WASM guest that is a loop over single bytes,
/// several times slower than comparing words, and a call for every short field name. 64 bytes
/// per step as words, then 32, then the tail as words that may overlap bytes already compared.
/// (A 128-bit vector form of the 64-byte step was measured with the bench harness and gave no
/// worker-level gain, so the boundary carries no `unsafe` for it.)
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    #[inline(always)]
    fn half(c: &[u8], i: usize) -> u32 {
        let mut w = [0; 4];
        w.copy_from_slice(&c[i..i + 4]);
        u32::from_le_bytes(w)
    }
    if n < 8 {
        return match n {
            0 => true,
            1..4 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
            _ => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        };
    }
    let (mut ca, mut cb) = (a.chunks_exact(64), b.chunks_exact(64));
    for (x, y) in ca.by_ref().zip(cb.by_ref()) {
        if !same_64(x, y) {
            return false;
        }
    }
    let mut at = n - ca.remainder().len();
    if at + 32 <= n {
        if !same_32(&a[at..], &b[at..]) {
            return false;
        }
        at += 32;
    }
    while at + 8 <= n {
        if word(a, at) != word(b, at) {
            return false;
        }
        at += 8;
    }
    at == n || word(a, n - 8) == word(b, n - 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_compare_equal_exactly_when_they_are() {
        let a: Vec<u8> = (0..200u32).map(|i| (i * 7) as u8).collect();
        for len in (0..=140).chain([200]) {
            assert!(same_bytes(&a[..len], &a[..len]));
            for at in 0..len {
                let mut b = a[..len].to_vec();
                b[at] ^= 1;
                assert!(!same_bytes(&a[..len], &b), "len {len}, differing at {at}");
            }
        }
        assert!(!same_bytes(&a[..10], &a[..11]));
    }
}
