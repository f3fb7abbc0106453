//! One self-contained HTML page a person enjoys reading: verdict banner, summary cards, a card
//! per file, the findings table with the decompiled call, severity filter buttons (a few lines of
//! inline JavaScript), and the rules that fired. No external assets; a Content-Security-Policy
//! forbids loading any; every piece of scan data is HTML-escaped (model data is hostile).

use crate::ScanReport;
use crate::text::{SEVERITIES_DESC, html_escape as esc};
use aigis_scan::{FileResult, RuleId, Severity, Status};
use std::collections::BTreeSet;
use std::fmt::Write;

const STYLE: &str = r#"
:root{--bg:#f6f7fb;--card:#fff;--ink:#1c2233;--muted:#667085;--line:#e4e7ef;
--critical:#b42318;--high:#e8590c;--medium:#c99a06;--low:#1d70b8;--info:#7a8394;--ok:#15803d}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 -apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;background:var(--bg);color:var(--ink)}
header{background:linear-gradient(120deg,#101828,#273452);color:#fff;padding:28px 40px 24px}
header h1{margin:0;font-size:26px;letter-spacing:.3px}
header h1 span{font-weight:400;opacity:.7;font-size:16px;margin-left:10px}
header p{margin:6px 0 0;opacity:.8}
main{padding:24px 40px 48px;max-width:1400px;margin:0 auto}
.verdict{border-radius:12px;padding:16px 20px;font-size:17px;font-weight:600;margin-bottom:20px;display:flex;gap:12px;align-items:center}
.verdict.fail{background:#fef3f2;color:var(--critical);border:1px solid #fecdca}
.verdict.pass{background:#ecfdf3;color:var(--ok);border:1px solid #abefc6}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:14px;margin-bottom:26px}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:14px 16px;box-shadow:0 1px 2px rgba(16,24,40,.04)}
.card .n{font-size:30px;font-weight:700;line-height:1.1}
.card .l{color:var(--muted);font-size:13px;text-transform:uppercase;letter-spacing:.6px}
.card.critical .n{color:var(--critical)}.card.high .n{color:var(--high)}.card.medium .n{color:var(--medium)}
.card.low .n{color:var(--low)}.card.info .n{color:var(--info)}
h2{font-size:19px;margin:30px 0 12px}
.warn{background:#fffaeb;border:1px solid #fedf89;color:#93370d;border-radius:10px;padding:10px 14px;margin:8px 0}
.filters{display:flex;flex-wrap:wrap;gap:8px;margin-bottom:12px;align-items:center}
.filters button{border:1px solid var(--line);background:#fff;border-radius:999px;padding:6px 14px;font:inherit;font-size:14px;cursor:pointer;color:var(--ink)}
.filters button.on{background:var(--ink);color:#fff;border-color:var(--ink)}
.filters .count{margin-left:auto;color:var(--muted);font-size:14px}
table{width:100%;border-collapse:separate;border-spacing:0;background:var(--card);border:1px solid var(--line);border-radius:12px;overflow:hidden}
th,td{text-align:left;padding:10px 12px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#f9fafb;font-size:12px;text-transform:uppercase;letter-spacing:.6px;color:var(--muted)}
tr:last-child td{border-bottom:none}
tr.suppressed td{opacity:.55}
td.msg code{white-space:pre-wrap;word-break:break-word;font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f2f4f7;border-radius:6px;padding:4px 6px;display:block}
td.file{overflow-wrap:anywhere;font-size:13px;width:28%}
th.sevcol{width:104px}th.rulecol{width:210px}
td.file small,.muted{color:var(--muted)}
.sev{display:inline-block;border-radius:999px;padding:2px 10px;font-size:12px;font-weight:700;color:#fff;text-transform:uppercase;letter-spacing:.5px}
.sev.critical{background:var(--critical)}.sev.high{background:var(--high)}.sev.medium{background:var(--medium)}
.sev.low{background:var(--low)}.sev.info{background:var(--info)}.sev.none{background:var(--ok)}
.rule{font:12px ui-monospace,Menlo,Consolas,monospace;color:#344054;white-space:nowrap}
.files{display:grid;grid-template-columns:repeat(auto-fill,minmax(380px,1fr));gap:14px}
.file-card{background:var(--card);border:1px solid var(--line);border-left:5px solid var(--ok);border-radius:12px;padding:14px 16px}
.file-card.critical{border-left-color:var(--critical)}.file-card.high{border-left-color:var(--high)}
.file-card.medium{border-left-color:var(--medium)}.file-card.low{border-left-color:var(--low)}
.file-card h3{margin:0 0 6px;font-size:15px;word-break:break-all}
.file-card dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:8px 0 0;font-size:13px}
.file-card dt{color:var(--muted)}.file-card dd{margin:0;word-break:break-all}
.rules details{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:10px 14px;margin-bottom:8px}
.rules summary{cursor:pointer;font-weight:600}
footer{color:var(--muted);font-size:13px;text-align:center;padding:20px}
"#;

const SCRIPT: &str = r#"
(function(){
  var table=document.getElementById('findings');
  if(!table){return;}
  var rows=table.querySelectorAll('tbody tr');
  var buttons=document.querySelectorAll('.filters button');
  var count=document.getElementById('shown');
  function apply(filter){
    var shown=0;
    for(var i=0;i<rows.length;i++){
      var r=rows[i];
      var sup=r.dataset.suppressed==='1';
      var ok=filter==='all'||(filter==='suppressed'?sup:!sup&&(filter==='issues'?r.dataset.sev!=='info':r.dataset.sev===filter));
      r.style.display=ok?'':'none';
      if(ok){shown++;}
    }
    for(var j=0;j<buttons.length;j++){buttons[j].classList.toggle('on',buttons[j].dataset.filter===filter);}
    count.textContent='showing '+shown+' of '+rows.length+' findings';
  }
  for(var k=0;k<buttons.length;k++){
    buttons[k].addEventListener('click',function(){apply(this.dataset.filter);});
  }
  apply('issues');
  table.setAttribute('data-ready','1');
})();
"#;

fn status_name(status: Status) -> &'static str {
    match status {
        Status::Ok => "ok",
        Status::Invalid => "invalid",
        Status::Unsupported => "unsupported",
        Status::Error => "error",
    }
}

fn sev_class(sev: Option<Severity>) -> &'static str {
    sev.map_or("none", |s| s.as_str())
}

/// A byte count for people: `512 B`, `1.5 MiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn file_card(out: &mut String, result: &FileResult) {
    let _ = write!(
        out,
        "<div class=\"file-card {}\"><h3>{}</h3><span class=\"sev {}\">{}</span>\n<dl>",
        sev_class(result.max_severity),
        esc(&result.path),
        sev_class(result.max_severity),
        result.max_severity.map_or("clean", |s| s.as_str()),
    );
    let mut row = |k: &str, v: &str| {
        let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(v));
    };
    row("format", result.format.as_str());
    row("status", status_name(result.status));
    row("size", &human_size(result.size));
    if let Some(sha) = &result.sha256 {
        row("sha256", sha);
    }
    let model = &result.model;
    if let Some(v) = &model.framework {
        row("framework", v);
    }
    if let Some(v) = &model.architecture {
        row("architecture", v);
    }
    if let Some(v) = model.parameters {
        row("parameters", &v.to_string());
    }
    if !model.dtypes.is_empty() {
        row(
            "dtypes",
            &model.dtypes.iter().cloned().collect::<Vec<_>>().join(", "),
        );
    }
    let active = result.findings.iter().filter(|f| f.is_active()).count();
    row(
        "findings",
        &format!("{active} ({} suppressed)", result.findings.len() - active),
    );
    out.push_str("</dl></div>\n");
}

/// Renders the report as one HTML document.
pub fn render(report: &ScanReport) -> String {
    let mut out = String::with_capacity(16 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    out.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<title>aigis model scan report</title>\n<style>");
    out.push_str(STYLE);
    out.push_str("</style></head><body>\n");
    let _ = write!(
        out,
        "<header><h1>aigis<span>model supply-chain scan · v{}</span></h1><p>Static analysis: nothing was loaded, unpickled or executed.</p></header>\n<main>\n",
        esc(report.tool.version)
    );
    let verdict = match report.max_severity() {
        Some(max) if report.fails() => format!(
            "<div class=\"verdict fail\">✖ Failed: findings reach <span class=\"sev {0}\">{0}</span> (threshold {1})</div>",
            max.as_str(),
            report.fail_on
        ),
        _ => format!(
            "<div class=\"verdict pass\">✔ Passed: no unsuppressed finding at or above {}</div>",
            report.fail_on
        ),
    };
    out.push_str(&verdict);
    out.push('\n');

    let s = &report.summary;
    out.push_str("<section class=\"cards\">");
    let _ = write!(
        out,
        "<div class=\"card\"><div class=\"n\">{}</div><div class=\"l\">files</div></div>",
        s.files
    );
    for sev in SEVERITIES_DESC {
        let _ = write!(
            out,
            "<div class=\"card {0}\"><div class=\"n\">{1}</div><div class=\"l\">{0}</div></div>",
            sev.as_str(),
            s.by_severity.get(&sev).copied().unwrap_or(0)
        );
    }
    let _ = writeln!(
        out,
        "<div class=\"card\"><div class=\"n\">{}</div><div class=\"l\">suppressed</div></div></section>",
        s.suppressed
    );
    for warning in &report.warnings {
        let _ = writeln!(out, "<div class=\"warn\">⚠ {}</div>", esc(warning));
    }

    let total: usize = report.results.iter().map(|r| r.findings.len()).sum();
    let _ = write!(out, "<h2>Findings</h2>\n<div class=\"filters\">");
    let issues: usize = SEVERITIES_DESC[..4]
        .iter()
        .map(|sev| s.by_severity.get(sev).copied().unwrap_or(0))
        .sum();
    let _ = write!(
        out,
        "<button data-filter=\"issues\" class=\"on\">issues · {issues}</button>"
    );
    for sev in SEVERITIES_DESC {
        let _ = write!(
            out,
            "<button data-filter=\"{0}\">{0} · {1}</button>",
            sev.as_str(),
            s.by_severity.get(&sev).copied().unwrap_or(0)
        );
    }
    let _ = writeln!(
        out,
        "<button data-filter=\"suppressed\">suppressed · {}</button><button data-filter=\"all\">all · {total}</button><span class=\"count\" id=\"shown\">{total} findings</span></div>",
        s.suppressed
    );
    out.push_str("<table id=\"findings\"><thead><tr><th class=\"sevcol\">severity</th><th class=\"rulecol\">rule</th><th>file</th><th>what loading does</th></tr></thead><tbody>\n");
    let mut rules = BTreeSet::new();
    let mut rows: Vec<(&FileResult, &aigis_scan::Finding)> = report
        .results
        .iter()
        .flat_map(|r| r.findings.iter().map(move |f| (r, f)))
        .collect();
    rows.sort_by(|a, b| {
        a.1.suppressed
            .is_some()
            .cmp(&b.1.suppressed.is_some())
            .then(b.1.severity.cmp(&a.1.severity))
            .then(a.0.path.cmp(&b.0.path))
    });
    for (result, f) in rows {
        {
            rules.insert(f.rule_id);
            let suppressed = f.suppressed.is_some();
            let _ = write!(
                out,
                "<tr data-sev=\"{sev}\" data-suppressed=\"{}\"{}><td><span class=\"sev {sev}\">{sev}</span></td><td class=\"rule\" title=\"{}\">{}</td><td class=\"file\">{}",
                u8::from(suppressed),
                if suppressed {
                    " class=\"suppressed\""
                } else {
                    ""
                },
                esc(f.rule_id.rule().title),
                esc(f.rule_id.as_str()),
                esc(&result.path),
                sev = f.severity.as_str(),
            );
            if let Some(place) = &f.location {
                let _ = write!(out, "<br><small>{}</small>", esc(place));
            }
            let _ = write!(
                out,
                "</td><td class=\"msg\"><code>{}</code>",
                esc(&f.message)
            );
            if !f.indicators.is_empty() {
                let _ = write!(
                    out,
                    "<small class=\"muted\">indicators: {}</small>",
                    esc(&f.indicators.join(", "))
                );
            }
            if let Some(s) = &f.suppressed {
                let _ = write!(
                    out,
                    "<br><small class=\"muted\">suppressed: {}{}</small>",
                    esc(&s.reason),
                    s.expires
                        .as_ref()
                        .map_or(String::new(), |d| format!(" (until {})", esc(d)))
                );
            }
            out.push_str("</td></tr>\n");
        }
    }
    out.push_str("</tbody></table>\n");

    out.push_str("<h2>Files</h2>\n<section class=\"files\">\n");
    let mut files: Vec<&FileResult> = report
        .results
        .iter()
        .filter(|r| r.status != Status::Unsupported)
        .collect();
    files.sort_by(|a, b| {
        b.max_severity
            .cmp(&a.max_severity)
            .then(a.path.cmp(&b.path))
    });
    for result in &files {
        file_card(&mut out, result);
    }
    let skipped = report.results.len() - files.len();
    out.push_str("</section>\n");
    if skipped > 0 {
        let _ = writeln!(
            out,
            "<p class=\"muted\">{skipped} file(s) were not model formats aigis knows and are not shown.</p>"
        );
    }

    if !rules.is_empty() {
        out.push_str("<h2>Rules in this report</h2>\n<section class=\"rules\">\n");
        for rule in rules.iter().copied().map(RuleId::rule) {
            let _ = write!(
                out,
                "<details><summary><span class=\"sev {}\">{}</span> <span class=\"rule\">{}</span> {}</summary><p>{}</p><p><b>Remediation:</b> {}</p>",
                rule.default_severity.as_str(),
                rule.default_severity.as_str(),
                esc(rule.id),
                esc(rule.title),
                esc(rule.explanation),
                esc(rule.remediation)
            );
            if !rule.references.is_empty() {
                out.push_str("<ul>");
                for r in rule.references {
                    let _ = write!(out, "<li>{}</li>", esc(r));
                }
                out.push_str("</ul>");
            }
            out.push_str("</details>\n");
        }
        out.push_str("</section>\n");
    }
    let _ = write!(
        out,
        "</main><footer>aigis {} · fail threshold {}</footer>\n<script>{SCRIPT}</script>\n</body></html>\n",
        esc(report.tool.version),
        report.fail_on
    );
    out
}
