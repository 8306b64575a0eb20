//! Files that decide what the program does (plugins, models, themes) must
//! not be writable by anyone but their owner, as ssh insists for keys: a
//! group- or world-writable file, or one in a world-writable directory, is a
//! way in for anyone else on the box.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Why a file is not trusted.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: refusing to load a {what_kind} that {what}; fix with `{fix}`", path.display())]
    Writable { path: PathBuf, what_kind: &'static str, what: String, fix: String },
}

/// Refuses `path` (a `what_kind`: "plugin", "model", "theme") when someone
/// other than its owner could have replaced it.
pub fn check_private(path: &Path, what_kind: &'static str) -> Result<(), TrustError> {
    let io = |source| TrustError::Io { path: path.to_path_buf(), source };
    let mode = std::fs::metadata(path).map_err(io)?.permissions().mode();
    if mode & 0o022 != 0 {
        return Err(TrustError::Writable {
            path: path.to_path_buf(),
            what_kind,
            what: format!("is group- or world-writable (mode {:03o})", mode & 0o777),
            fix: format!("chmod go-w {}", path.display()),
        });
    }
    let dir = path.canonicalize().map_err(io)?.parent().map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
    let dir_mode = std::fs::metadata(&dir).map_err(io)?.permissions().mode();
    // A sticky world-writable directory (/tmp) still lets anyone create a
    // file there, just not replace one they don't own: the file's own mode
    // was checked above, but its name could have been taken first, so refuse.
    if dir_mode & 0o002 != 0 {
        return Err(TrustError::Writable {
            path: path.to_path_buf(),
            what_kind,
            what: format!("sits in a world-writable directory ({}, mode {:03o})", dir.display(), dir_mode & 0o7777),
            fix: format!("chmod o-w {} (or move the {what_kind} to a private directory)", dir.display()),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writable_file_and_world_writable_dir_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("card.toml");
        std::fs::write(&file, b"x").unwrap();
        for mode in [0o664, 0o646, 0o666] {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = check_private(&file, "model").unwrap_err().to_string();
            assert!(err.contains("group- or world-writable") && err.contains("chmod go-w") && err.contains("card.toml"), "{err}");
        }
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(check_private(&file, "model").is_ok());
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = check_private(&file, "theme").unwrap_err().to_string();
        assert!(err.contains("world-writable directory") && err.contains("chmod o-w") && err.contains("theme"), "{err}");
    }
}
