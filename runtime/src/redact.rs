//! Keeps secret values out of everything a person or a log collector sees.

use std::borrow::Cow;

/// Replaces known secret values with `***` in text bound for logs and errors.
///
/// Secrets shorter than [`Redactor::MIN_LEN`] bytes are not searched for: masking
/// every `a` or `1` in the output would destroy it while protecting nothing
/// (a secret that short is guessable anyway).
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

/// Shows how many secrets it holds, never which: a `{:?}` of a config must not leak them.
impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

impl Redactor {
    /// Shortest secret that is masked.
    pub const MIN_LEN: usize = 3;

    /// Registers a secret value to mask from now on.
    pub fn add(&mut self, secret: &str) {
        if secret.len() >= Self::MIN_LEN && !self.secrets.iter().any(|s| s == secret) {
            self.secrets.push(secret.to_owned());
            // Longest first, so a secret containing another is masked whole.
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// `text` with every registered secret replaced by `***`.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = Cow::Owned(out.replace(s.as_str(), "***"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_secrets_and_leaves_the_rest() {
        let mut r = Redactor::default();
        r.add("hunter2");
        r.add("hunter2-long");
        r.add("x");
        assert_eq!(
            r.redact("pw=hunter2-long;pw2=hunter2 x"),
            "pw=***;pw2=*** x"
        );
        assert!(matches!(r.redact("nothing here"), Cow::Borrowed(_)));
        assert_eq!(format!("{r:?}"), "Redactor(2 secrets)");
    }
}
