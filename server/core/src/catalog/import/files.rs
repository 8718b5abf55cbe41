//! Reading a catalog directory: YAML files only, inside the directory, each bounded.

use super::*;

/// Largest descriptor file read, in bytes: a catalog file is a few kilobytes.
pub const MAX_DESCRIPTOR_BYTES: u64 = 1 << 20;

/// Reads every `*.yaml` / `*.yml` file under `dir`, in a stable order. Nothing outside `dir` is
/// read: a symbolic link that leads out of it is a problem, as is a link to a directory (it could
/// loop) and a file over [`MAX_DESCRIPTOR_BYTES`].
pub fn read_dir(dir: &Path) -> Result<Vec<SourceFile>, Vec<Problem>> {
    let problem = |file: &Path, message: String| Problem {
        file: file.strip_prefix(dir).unwrap_or(file).display().to_string(),
        line: 0,
        field: String::new(),
        message,
    };
    let root = dir.canonicalize().map_err(|e| vec![problem(dir, e.to_string())])?;
    let mut paths = Vec::new();
    let mut problems = Vec::new();
    collect_yaml(dir, dir, &root, &mut paths, &mut problems)
        .map_err(|e| vec![problem(dir, e.to_string())])?;
    paths.sort();
    let mut files = Vec::new();
    for path in paths {
        let shown = path.strip_prefix(dir).unwrap_or(&path).display().to_string();
        let read = std::fs::File::open(&path).and_then(|file| {
            use std::io::Read;
            let mut bytes = Vec::new();
            file.take(MAX_DESCRIPTOR_BYTES + 1).read_to_end(&mut bytes).map(|_| bytes)
        });
        match read {
            Ok(bytes) if bytes.len() as u64 > MAX_DESCRIPTOR_BYTES => problems.push(problem(
                &path,
                format!(
                    "larger than {} KiB: a descriptor file is read only up to that size",
                    MAX_DESCRIPTOR_BYTES >> 10
                ),
            )),
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => files.push(SourceFile { path: shown, text }),
                Err(_) => problems.push(problem(&path, "not valid UTF-8".into())),
            },
            Err(e) => problems.push(problem(&path, e.to_string())),
        }
    }
    if problems.is_empty() {
        Ok(files)
    } else {
        problems.sort_by(|a, b| a.file.cmp(&b.file));
        Err(problems)
    }
}

pub(super) fn collect_yaml(
    dir: &Path,
    top: &Path,
    root: &Path,
    out: &mut Vec<std::path::PathBuf>,
    problems: &mut Vec<Problem>,
) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let yaml = matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"));
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            let shown = path.strip_prefix(top).unwrap_or(&path).display().to_string();
            let mut refuse = |message: &str| {
                problems.push(Problem {
                    file: shown.clone(),
                    line: 0,
                    field: String::new(),
                    message: message.into(),
                })
            };
            match path.canonicalize() {
                Ok(target) if !target.starts_with(root) => refuse("a symbolic link that leads out of the catalog directory; copy the file in instead"),
                Ok(target) if target.is_dir() => refuse("a symbolic link to a directory is not followed (it could loop); link the files"),
                Ok(_) if yaml => out.push(path),
                Ok(_) => {}
                Err(_) if yaml => refuse("a symbolic link to nothing"),
                Err(_) => {}
            }
        } else if kind.is_dir() {
            collect_yaml(&path, top, root, out, problems)?;
        } else if yaml {
            out.push(path);
        }
    }
    Ok(())
}

/// `target` (relative to `dir`, both inside the catalog directory) as a path in that
/// directory, or None when it is a URL or leaves the directory.
pub(super) fn inside(dir: &Path, target: &str) -> Option<String> {
    if target.contains("://") || target.starts_with('/') {
        return None;
    }
    let mut parts: Vec<String> = dir.iter().map(|c| c.to_string_lossy().into_owned()).collect();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other.to_string()),
        }
    }
    Some(parts.join("/"))
}
