//! `airlock keygen --out PATH`: a new SSH client key for reaching bastions.

use std::path::Path;

use crate::job::JobError;

/// Writes the private key to `out` and prints the `authorized_keys` line and
/// how to use the key in a connection file.
pub(super) fn run(out: &Path, comment: &str) -> Result<(), JobError> {
    let (private, line) =
        crate::ssh::generate_ed25519(comment).map_err(|e| JobError::Failed(e.to_string()))?;
    crate::ssh::write_private_key(out, &private)
        .map_err(|e| JobError::Usage(format!("keygen --out: {e}")))?;
    println!("wrote the private key to {} (mode 0600)", out.display());
    println!("give this line to the bastion's admin, for ~airlock/.ssh/authorized_keys:");
    println!("{line}");
    println!(
        "then use it in a connection file: private_key = {{ file = \"{}\" }}",
        out.display()
    );
    Ok(())
}
