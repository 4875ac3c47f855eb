//! The data directory and the files in it are the owner's alone: the directory 0700, the token and the database
//! (with its WAL and shared-memory files) 0600. A home's messages and state are private from other local users.
//! Created that way, and enforced at every start, with a warning naming whatever was found looser (an older
//! version's files, a restored backup, a hand-made directory).

use anyhow::Context;
use std::fs::Permissions;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

/// The directory's mode.
pub const DIR_MODE: u32 = 0o700;
/// Every file's mode.
pub const FILE_MODE: u32 = 0o600;

/// Creates the data directory (owner-only), makes sure it is owner-only and writable, or explains why it cannot
/// be used.
pub fn prepare(dir: &Path) -> anyhow::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    restrict(dir, DIR_MODE)?;
    let probe = dir.join(".write-test");
    std::fs::write(&probe, b"ok")
        .and_then(|()| std::fs::remove_file(&probe))
        .with_context(|| format!("the data directory {} is not writable", dir.display()))
}

/// Narrows `path` to `mode` if it exists and allows anyone but the owner anything; says so when it does.
pub fn restrict(path: &Path, mode: u32) -> anyhow::Result<()> {
    let found = match std::fs::metadata(path) {
        Ok(meta) => meta.permissions().mode() & 0o777,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(e)
                .with_context(|| format!("cannot read the permissions of {}", path.display()))
        }
    };
    if found & !mode == 0 {
        return Ok(());
    }
    tracing::warn!(
        path = %path.display(),
        "found with mode {found:o}, readable by others; narrowing it to {mode:o}"
    );
    std::fs::set_permissions(path, Permissions::from_mode(mode))
        .with_context(|| format!("cannot make {} private (mode {mode:o})", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_directory_is_owner_only_and_a_loose_one_is_narrowed() {
        let root = std::env::temp_dir().join(format!("hearth-data-dir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let fresh = root.join("fresh");
        prepare(&fresh).unwrap();
        assert_eq!(mode(&fresh), DIR_MODE);

        let loose = root.join("loose");
        std::fs::create_dir_all(&loose).unwrap();
        std::fs::set_permissions(&loose, Permissions::from_mode(0o755)).unwrap();
        let file = loose.join("hearth.db");
        std::fs::write(&file, b"").unwrap();
        std::fs::set_permissions(&file, Permissions::from_mode(0o644)).unwrap();
        prepare(&loose).unwrap();
        restrict(&file, FILE_MODE).unwrap();
        assert_eq!(mode(&loose), DIR_MODE);
        assert_eq!(mode(&file), FILE_MODE);
        // Tighter than asked is left alone.
        std::fs::set_permissions(&file, Permissions::from_mode(0o400)).unwrap();
        restrict(&file, FILE_MODE).unwrap();
        assert_eq!(mode(&file), 0o400);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
