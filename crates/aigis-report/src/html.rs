//! One self-contained HTML page that stays readable at a thousand findings: a header saying what
//! was scanned, when, where and by which aigis; the verdict and counts; where the files are
//! (location exposure, once per location); then the findings grouped by file or by rule in
//! collapsible groups inside a scrolling box, with a search box and severity filters (a few
//! lines of inline JavaScript; `?q=…&sev=…&view=…` in the address sets them). A file's headline
//! is its content verdict, as on the terminal. No external assets: a Content-Security-Policy
//! allows only this page's own style and script, by hash. Every piece of scan data is
//! HTML-escaped (model data is hostile); the script reads text, never writes markup.

use crate::ScanReport;
use crate::text::{SEVERITIES_DESC, html_escape as esc};
use aigis_scan::{FileResult, Finding, RuleId, Severity, Status};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Groups of each list open when the page loads; the rest start collapsed.
const OPEN_GROUPS: usize = 3;
/// Targets named in the header before the rest are folded away.
const HEADER_TARGETS: usize = 5;

const STYLE: &str = r#"
:root{--bg:#f6f7fb;--card:#fff;--ink:#1c2233;--muted:#667085;--line:#e4e7ef;
--critical:#b42318;--high:#e8590c;--medium:#b07d05;--low:#1d70b8;--info:#7a8394;--ok:#15803d;--odd:#7e3aa8}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;font:15px/1.5 -apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;background:var(--bg);color:var(--ink)}
code,.mono{font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
header{background:linear-gradient(120deg,#101828,#273452);color:#fff;padding:22px 40px 18px}
header h1{margin:0;font-size:24px;letter-spacing:.3px}
header h1 span{font-weight:400;opacity:.75;font-size:15px;margin-left:10px}
header dl{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:2px 14px;margin:12px 0 0;font-size:14px}
header dt{opacity:.65}header dd{margin:0;overflow-wrap:anywhere}
header dd code{background:rgba(255,255,255,.12);border-radius:5px;padding:1px 6px;margin-right:4px;display:inline-block;max-width:100%;overflow-wrap:anywhere}
header details{display:inline}header summary{cursor:pointer;opacity:.8}
header p{margin:10px 0 0;opacity:.7;font-size:13px}
main{padding:20px 40px 40px;max-width:1400px;margin:0 auto}
.verdict{border-radius:12px;padding:14px 18px;font-size:17px;font-weight:600;margin-bottom:16px}
.verdict.fail{background:#fef3f2;color:var(--critical);border:1px solid #fecdca}
.verdict.incomplete{background:#f9f5ff;color:var(--odd);border:1px solid #e9d7fe}
.verdict.pass{background:#ecfdf3;color:var(--ok);border:1px solid #abefc6}
.verdict small{display:block;font-weight:400;font-size:14px;color:var(--ink);opacity:.8}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(110px,1fr));gap:10px;margin-bottom:10px}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:10px 14px}
.card .n{font-size:26px;font-weight:700;line-height:1.1}
.card .l{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.6px}
.card.critical .n{color:var(--critical)}.card.high .n{color:var(--high)}.card.medium .n{color:var(--medium)}
.card.low .n{color:var(--low)}.card.info .n{color:var(--info)}
.tally{color:var(--muted);font-size:14px;margin:0 0 8px}
h2{font-size:19px;margin:26px 0 10px}
.warn{background:#fffaeb;border:1px solid #fedf89;color:#93370d;border-radius:10px;padding:8px 14px;margin:8px 0;overflow-wrap:anywhere}
.warn summary{cursor:pointer;font-weight:600}
.warn ul{margin:6px 0 0;padding-left:20px;max-height:260px;overflow:auto}
.scroll{max-height:min(70vh,720px);overflow:auto;background:var(--card);border:1px solid var(--line);border-radius:12px;overscroll-behavior:contain}
.scroll.short{max-height:min(50vh,360px)}
table{width:100%;border-collapse:collapse}
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#f9fafb;font-size:12px;text-transform:uppercase;letter-spacing:.6px;color:var(--muted);position:sticky;top:0}
td{overflow-wrap:anywhere}
td.msg code{white-space:pre-wrap;word-break:break-word;background:#f2f4f7;border-radius:6px;padding:3px 6px;display:block}
td small,.muted{color:var(--muted)}
td.sevcell{width:96px}td.rule{width:230px}td.count{width:70px;text-align:right}
tr.suppressed td{opacity:.55}
.sev{display:inline-block;border-radius:999px;padding:1px 9px;font-size:12px;font-weight:700;color:#fff;text-transform:uppercase;letter-spacing:.5px;white-space:nowrap}
.sev.critical{background:var(--critical)}.sev.high{background:var(--high)}.sev.medium{background:var(--medium)}
.sev.low{background:var(--low)}.sev.info{background:var(--info)}.sev.none{background:var(--ok)}
.word{display:inline-block;min-width:104px;text-align:center;border-radius:6px;padding:1px 8px;font-size:12px;font-weight:700;letter-spacing:.5px;color:#fff;background:var(--ok)}
.word.malicious{background:var(--critical)}.word.suspicious{background:var(--high)}.word.review{background:var(--medium)}
.word.invalid,.word.partial,.word.not-scanned{background:var(--odd)}.word.skipped{background:var(--info)}
.rule{font:12px ui-monospace,Menlo,Consolas,monospace;color:#344054}
.controls{display:flex;flex-wrap:wrap;gap:8px 12px;align-items:center;margin-bottom:10px}
.controls input{flex:1 1 260px;min-width:0;font:inherit;padding:7px 12px;border:1px solid var(--line);border-radius:10px;background:#fff}
.chips,.tabs{display:flex;flex-wrap:wrap;gap:6px}
.chips button,.tabs button{border:1px solid var(--line);background:#fff;border-radius:999px;padding:4px 12px;font:inherit;font-size:13px;cursor:pointer;color:var(--ink)}
.chips button[aria-pressed=true]{background:var(--ink);color:#fff;border-color:var(--ink)}
.chips button[aria-pressed=false]{opacity:.7;text-decoration:line-through}
.tabs button[aria-selected=true]{background:#273452;color:#fff;border-color:#273452}
.count{color:var(--muted);font-size:14px}
details.grp{border-bottom:1px solid var(--line)}
details.grp>summary{list-style:none;cursor:pointer;display:flex;flex-wrap:wrap;gap:4px 10px;align-items:center;padding:8px 12px}
details.grp>summary::-webkit-details-marker{display:none}
details.grp>summary::before{content:"\25B8";color:var(--muted);width:10px}
details.grp[open]>summary::before{content:"\25BE"}
details.grp>summary:hover{background:#f9fafb}
.path{flex:1 1 240px;min-width:0;overflow-wrap:anywhere;font-weight:600;font-size:14px}
.tags{display:flex;flex-wrap:wrap;gap:4px;align-items:center;font-size:12px;color:var(--muted)}
.n{font-weight:700}.n.critical{color:var(--critical)}.n.high{color:var(--high)}.n.medium{color:var(--medium)}.n.low{color:var(--low)}.n.info{color:var(--info)}
.hiddenby{font-size:12px;color:var(--muted)}
.body{padding:0 12px 12px 32px}
.body p{margin:6px 0;font-size:14px}
.body ul{margin:4px 0 8px;font-size:13px}
.body table{border:1px solid var(--line);border-radius:8px}
dl.facts{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:0 12px;margin:2px 0 8px;font-size:13px}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0;overflow-wrap:anywhere}
.loc{color:var(--odd)}
.none{padding:14px;color:var(--muted)}
footer{color:var(--muted);font-size:13px;text-align:center;padding:20px}
[hidden]{display:none!important}
@media (max-width:700px){
header{padding:16px 14px 14px}header h1{font-size:20px}header h1 span{display:block;margin:2px 0 0}
main{padding:14px 10px 28px}
.cards{grid-template-columns:repeat(4,minmax(0,1fr));gap:6px}.card{padding:6px 8px}.card .n{font-size:19px}.card .l{font-size:10px}
.controls input{flex-basis:100%}
table.f thead,table.w thead{display:none}
table.f,table.f tbody,table.f tr,table.f td,table.w,table.w tbody,table.w tr,table.w td{display:block;width:auto;border:none}
table.f tr,table.w tr{border-bottom:1px solid var(--line);padding:6px 0}
table.f td,table.w td{padding:2px 8px;text-align:left}
.body{padding:0 6px 10px 10px}
.word{min-width:0}
}
"#;

const SCRIPT: &str = r#"
(function(){
  'use strict';
  var doc=document,root=doc.getElementById('findings');
  if(!root){return;}
  var list=function(sel,from){return Array.prototype.slice.call((from||root).querySelectorAll(sel));};
  var q=doc.getElementById('q'),shown=doc.getElementById('shown');
  var chips=list('.chips button'),tabs=list('.tabs button'),views=list('.view');
  var on={},groups=[];
  chips.forEach(function(b){on[b.getAttribute('data-sev')]=b.getAttribute('aria-pressed')==='true';});
  views.forEach(function(view){
    list('details.grp',view).forEach(function(g){
      // A group is found by its verdict and path (or rule id and title), not by its counts.
      var word=g.querySelector('.word');
      var head=((word?word.textContent+' ':'')+g.querySelector('.path').textContent).toLowerCase();
      var rows=list('tr.row',g);
      rows.forEach(function(r){r._text=head+' '+r.textContent.toLowerCase();});
      groups.push({el:g,view:view,head:head,rows:rows,note:g.querySelector('.hiddenby')});
    });
  });
  function apply(){
    var terms=q.value.toLowerCase().split(/\s+/).filter(Boolean);
    var has=function(text){return terms.every(function(t){return text.indexOf(t)>=0;});};
    var total=0,visible=0,opened={},any={};
    groups.forEach(function(g){
      var n=0;
      g.rows.forEach(function(r){
        var ok=(r.getAttribute('data-s')==='1'?on.suppressed:on[r.getAttribute('data-sev')])&&has(r._text);
        r.hidden=!ok;
        if(ok){n++;}
      });
      var ok=g.rows.length?n>0:on.info&&has(g.head);
      g.el.hidden=!ok;
      var id=g.view.id;
      if(ok){any[id]=true;}
      if(ok&&terms.length&&(opened[id]||0)<10){g.el.open=true;opened[id]=(opened[id]||0)+1;}
      if(g.note){g.note.textContent=n<g.rows.length&&n>0?(g.rows.length-n)+' hidden by the filters':'';}
      if(id==='by-file'){total+=g.rows.length;visible+=n;}
    });
    views.forEach(function(v){var none=v.querySelector('.none');if(none){none.hidden=!!any[v.id];}});
    shown.textContent='showing '+visible+' of '+total+' findings';
    root.setAttribute('data-shown',visible);
  }
  function show(name){
    views.forEach(function(v){v.hidden=v.getAttribute('data-view')!==name;});
    tabs.forEach(function(t){t.setAttribute('aria-selected',String(t.getAttribute('data-view')===name));});
  }
  function remember(){
    try{
      var p=new URLSearchParams();
      if(q.value){p.set('q',q.value);}
      p.set('sev',chips.filter(function(b){return on[b.getAttribute('data-sev')];}).map(function(b){return b.getAttribute('data-sev');}).join(','));
      tabs.forEach(function(t){if(t.getAttribute('aria-selected')==='true'){p.set('view',t.getAttribute('data-view'));}});
      history.replaceState(null,'','?'+p.toString());
    }catch(e){}
  }
  chips.forEach(function(b){b.addEventListener('click',function(){
    var sev=b.getAttribute('data-sev');
    on[sev]=!on[sev];
    b.setAttribute('aria-pressed',String(on[sev]));
    apply();remember();
  });});
  tabs.forEach(function(t){t.addEventListener('click',function(){show(t.getAttribute('data-view'));remember();});});
  q.addEventListener('input',function(){apply();remember();});
  show('file');
  var params=new URLSearchParams(location.search);
  if(params.has('q')){q.value=params.get('q');}
  if(params.has('sev')){
    var want=params.get('sev').split(',');
    chips.forEach(function(b){if(on[b.getAttribute('data-sev')]!==(want.indexOf(b.getAttribute('data-sev'))>=0)){b.click();}});
  }
  if(params.get('view')==='rule'){tabs.forEach(function(t){if(t.getAttribute('data-view')==='rule'){t.click();}});}
  apply();
  root.setAttribute('data-ready','1');
  // Layout facts for the report's own browser test (nothing is sent anywhere).
  function measure(){
    var de=doc.documentElement,box=root.querySelector('.scroll');
    de.setAttribute('data-scroll-height',de.scrollHeight);
    de.setAttribute('data-scroll-width',de.scrollWidth);
    de.setAttribute('data-viewport-width',window.innerWidth);
    de.setAttribute('data-styled',box&&getComputedStyle(box).overflowY==='auto'?'1':'0');
    de.setAttribute('data-render-ms',Math.round(performance.now()));
  }
  measure();
  window.addEventListener('load',measure);
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

/// A file's verdict from its content, in the terminal report's words (where the file is comes
/// apart, in "Where the files are").
fn verdict(result: &FileResult) -> &'static str {
    match (result.status, result.content_severity) {
        (_, Some(Severity::Critical)) => "MALICIOUS",
        (_, Some(Severity::High)) => "SUSPICIOUS",
        (Status::Error, _) => "NOT SCANNED",
        _ if result.incomplete.is_some() => "PARTIAL",
        (Status::Invalid, _) => "INVALID",
        (_, Some(Severity::Medium)) => "REVIEW",
        (Status::Unsupported, _) => "SKIPPED",
        _ => "CLEAN",
    }
}

/// Where a verdict word sorts: the words that need a person first.
fn verdict_rank(word: &str) -> u8 {
    match word {
        "MALICIOUS" => 0,
        "SUSPICIOUS" => 1,
        "NOT SCANNED" => 2,
        "PARTIAL" => 3,
        "INVALID" => 4,
        "REVIEW" => 5,
        "CLEAN" => 6,
        _ => 7,
    }
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

/// Standard base64 (with padding), for the Content-Security-Policy hashes.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A CSP source that allows exactly this inline text.
fn csp_hash(text: &str) -> String {
    format!("'sha256-{}'", base64(&Sha256::digest(text.as_bytes())))
}

/// A finding listed under its file and its rule: everything except active location findings,
/// which "Where the files are" reports once per location.
fn listed(finding: &Finding) -> bool {
    !(finding.rule_id.is_location() && finding.is_active())
}

/// Row attributes shared by both views: severity, suppressed, the suppressed class.
fn row_open(out: &mut String, f: &Finding) {
    let suppressed = f.suppressed.is_some();
    let _ = write!(
        out,
        "<tr class=\"row{}\" data-sev=\"{}\" data-s=\"{}\"><td class=\"sevcell\"><span class=\"sev {1}\">{1}</span></td>",
        if suppressed { " suppressed" } else { "" },
        f.severity.as_str(),
        u8::from(suppressed),
    );
}

/// The "what loading does" cell: the message as code, where, indicators, suppression.
fn message_cell(out: &mut String, f: &Finding, with_location: bool) {
    let _ = write!(out, "<td class=\"msg\"><code>{}</code>", esc(&f.message));
    if with_location && let Some(place) = &f.location {
        let _ = write!(out, "<small>at {}</small><br>", esc(place));
    }
    if !f.indicators.is_empty() {
        let _ = write!(
            out,
            "<small>indicators: {}</small><br>",
            esc(&f.indicators.join(", "))
        );
    }
    if let Some(s) = &f.suppressed {
        let _ = write!(
            out,
            "<small>suppressed: {}{}</small>",
            esc(&s.reason),
            s.expires
                .as_ref()
                .map_or(String::new(), |d| format!(" (until {})", esc(d)))
        );
    }
    out.push_str("</td></tr>\n");
}

/// Per-severity counts as compact tags (`2 critical · 1 medium`), suppressed counted apart.
fn tally_tags(out: &mut String, findings: &[&Finding]) {
    let mut counts: BTreeMap<Severity, usize> = BTreeMap::new();
    let mut suppressed = 0;
    for f in findings {
        if f.is_active() {
            *counts.entry(f.severity).or_default() += 1;
        } else {
            suppressed += 1;
        }
    }
    out.push_str("<span class=\"tags\">");
    for sev in SEVERITIES_DESC {
        if let Some(n) = counts.get(&sev) {
            let _ = write!(out, "<span><span class=\"n {sev}\">{n}</span> {sev}</span>");
        }
    }
    if suppressed > 0 {
        let _ = write!(out, "<span>{suppressed} suppressed</span>");
    }
    out.push_str("<span class=\"hiddenby\"></span></span>");
}

fn file_group(out: &mut String, result: &FileResult, open: bool) {
    let word = verdict(result);
    let findings: Vec<&Finding> = result.findings.iter().filter(|f| listed(f)).collect();
    let _ = write!(
        out,
        "<details class=\"grp\"{}><summary><span class=\"word {}\">{word}</span><span class=\"path\">{}</span><span class=\"tags\">{}</span>",
        if open { " open" } else { "" },
        word.to_ascii_lowercase().replace(' ', "-"),
        esc(&result.path),
        esc(result.format.as_str()),
    );
    tally_tags(out, &findings);
    out.push_str("</summary><div class=\"body\"><dl class=\"facts\">");
    let mut fact = |k: &str, v: &str| {
        let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(v));
    };
    fact("status", status_name(result.status));
    fact("size", &human_size(result.size));
    if let Some(sha) = &result.sha256 {
        fact("sha256", sha);
    } else if let Some(why) = &result.hash_skipped {
        fact("sha256", &format!("not computed: {why}"));
    }
    if let Some(why) = &result.incomplete {
        fact("not analysed to the end", why);
    }
    let model = &result.model;
    if let Some(v) = &model.framework {
        fact("framework", v);
    }
    if let Some(v) = &model.architecture {
        fact("architecture", v);
    }
    if let Some(v) = model.parameters {
        fact("parameters", &v.to_string());
    }
    if !model.dtypes.is_empty() {
        fact(
            "dtypes",
            &model.dtypes.iter().cloned().collect::<Vec<_>>().join(", "),
        );
    }
    out.push_str("</dl>");
    let exposed: Vec<&Finding> = result
        .findings
        .iter()
        .filter(|f| f.rule_id.is_location() && f.is_active())
        .collect();
    if let Some(worst) = exposed.iter().map(|f| f.severity).max() {
        let _ = write!(
            out,
            "<p class=\"loc\">location: {} finding(s), worst <span class=\"sev {}\">{}</span> — see <a href=\"#where\">Where the files are</a></p>",
            exposed.len(),
            worst.as_str(),
            worst.as_str(),
        );
    }
    if !findings.is_empty() {
        out.push_str("<table class=\"f\"><thead><tr><th>severity</th><th>rule</th><th>what loading does</th></tr></thead><tbody>\n");
        for f in &findings {
            row_open(out, f);
            let _ = write!(
                out,
                "<td class=\"rule\" title=\"{}\">{}</td>",
                esc(f.rule_id.rule().title),
                esc(f.rule_id.as_str())
            );
            message_cell(out, f, true);
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</div></details>\n");
}

fn rule_group(out: &mut String, rule: RuleId, rows: &[(&FileResult, &Finding)], open: bool) {
    let meta = rule.rule();
    let worst = rows
        .iter()
        .filter(|(_, f)| f.is_active())
        .map(|(_, f)| f.severity)
        .max();
    let files: std::collections::BTreeSet<&str> =
        rows.iter().map(|(r, _)| r.path.as_str()).collect();
    let _ = write!(
        out,
        "<details class=\"grp\"{}><summary><span class=\"sev {}\">{}</span><span class=\"path\"><span class=\"rule\">{}</span> {}</span><span class=\"tags\">{} file(s)</span>",
        if open { " open" } else { "" },
        sev_class(worst),
        worst.map_or("suppressed", |s| s.as_str()),
        esc(meta.id),
        esc(meta.title),
        files.len(),
    );
    let findings: Vec<&Finding> = rows.iter().map(|(_, f)| *f).collect();
    tally_tags(out, &findings);
    let _ = write!(
        out,
        "</summary><div class=\"body\"><p>{}</p><p><b>Remediation:</b> {}</p>",
        esc(meta.explanation),
        esc(meta.remediation)
    );
    if !meta.references.is_empty() {
        out.push_str("<ul>");
        for r in meta.references {
            let _ = write!(out, "<li>{}</li>", esc(r));
        }
        out.push_str("</ul>");
    }
    out.push_str("<table class=\"f\"><thead><tr><th>severity</th><th>file</th><th>what loading does</th></tr></thead><tbody>\n");
    for (result, f) in rows {
        row_open(out, f);
        let _ = write!(out, "<td class=\"mono\">{}", esc(&result.path));
        if let Some(place) = &f.location {
            let _ = write!(out, "<br><small>at {}</small>", esc(place));
        }
        out.push_str("</td>");
        message_cell(out, f, false);
    }
    out.push_str("</tbody></table></div></details>\n");
}

fn header(out: &mut String, report: &ScanReport) {
    let _ = write!(
        out,
        "<header><h1>aigis<span>model scan report · v{}</span></h1><dl>",
        esc(report.tool.version)
    );
    if !report.targets.is_empty() {
        out.push_str("<dt>scanned</dt><dd>");
        for target in report.targets.iter().take(HEADER_TARGETS) {
            let _ = write!(out, "<code>{}</code>", esc(target));
        }
        if report.targets.len() > HEADER_TARGETS {
            let _ = write!(
                out,
                "<details><summary>and {} more</summary>",
                report.targets.len() - HEADER_TARGETS
            );
            for target in &report.targets[HEADER_TARGETS..] {
                let _ = write!(out, "<code>{}</code>", esc(target));
            }
            out.push_str("</details>");
        }
        out.push_str("</dd>");
    }
    if let Some(time) = &report.generated_at {
        let _ = write!(out, "<dt>time</dt><dd>{}</dd>", esc(time));
    }
    if let Some(host) = &report.host {
        let _ = write!(out, "<dt>host</dt><dd>{}</dd>", esc(host));
    }
    let _ = write!(
        out,
        "<dt>fails at</dt><dd>{}{}</dd>",
        report.fail_on,
        if report.incomplete_fails {
            ", or when a file is not fully scanned"
        } else {
            ""
        }
    );
    if let Some(policy) = &report.policy {
        let _ = write!(out, "<dt>policy</dt><dd>{}</dd>", esc(policy));
    }
    out.push_str(
        "</dl><p>Static analysis: nothing was loaded, unpickled or executed.</p></header>\n",
    );
}

fn verdict_banner(out: &mut String, report: &ScanReport) {
    let incomplete = report.summary.incomplete;
    // The headline already says it when the only failure is what was not fully scanned.
    let said = !report.fails() && report.fails_incomplete();
    if report.fails()
        && let Some(max) = report.max_severity()
    {
        let _ = write!(
            out,
            "<div class=\"verdict fail\">✖ Failed: findings reach <span class=\"sev {0}\">{0}</span> (threshold {1})",
            max.as_str(),
            report.fail_on
        );
    } else if report.fails_incomplete() {
        let _ = write!(
            out,
            "<div class=\"verdict incomplete\">✖ Not fully scanned: {incomplete} file(s) could not be analysed to the end"
        );
    } else {
        let _ = write!(
            out,
            "<div class=\"verdict pass\">✔ Passed: no unsuppressed finding at or above {}",
            report.fail_on
        );
    }
    if incomplete > 0 && !said {
        let _ = write!(
            out,
            "<small>{incomplete} file(s) not fully scanned{}.</small>",
            if report.incomplete_fails {
                ""
            } else {
                " (allowed by the policy)"
            }
        );
    }
    out.push_str("</div>\n");
}

fn summary(out: &mut String, report: &ScanReport) {
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
    let mut words: BTreeMap<(u8, &str), usize> = BTreeMap::new();
    for result in &report.results {
        let word = verdict(result);
        *words.entry((verdict_rank(word), word)).or_default() += 1;
    }
    let parts: Vec<String> = words
        .iter()
        .map(|((_, word), n)| format!("{n} {}", word.to_ascii_lowercase()))
        .collect();
    let _ = write!(
        out,
        "<p class=\"tally\">Files by content: {}",
        parts.join(" · ")
    );
    if s.excluded > 0 || s.ignored > 0 {
        let _ = write!(
            out,
            " — skipped by the operator: {} by --exclude, {} by ignore files",
            s.excluded, s.ignored
        );
    }
    out.push_str("</p>\n");
}

fn warnings(out: &mut String, report: &ScanReport) {
    match report.warnings.len() {
        0 => {}
        1..=3 => {
            for warning in &report.warnings {
                let _ = writeln!(out, "<div class=\"warn\">⚠ {}</div>", esc(warning));
            }
        }
        n => {
            let _ = write!(
                out,
                "<details class=\"warn\"><summary>⚠ {n} warnings</summary><ul>"
            );
            for warning in &report.warnings {
                let _ = write!(out, "<li>{}</li>", esc(warning));
            }
            out.push_str("</ul></details>\n");
        }
    }
    let incomplete: Vec<&FileResult> = report
        .results
        .iter()
        .filter(|r| r.incomplete.is_some())
        .collect();
    if !incomplete.is_empty() {
        let _ = write!(
            out,
            "<details class=\"warn\"><summary>{} file(s) were not analysed to the end{}</summary><ul>",
            incomplete.len(),
            if report.incomplete_fails {
                " (never counted as clean)"
            } else {
                " (allowed)"
            }
        );
        for result in incomplete {
            let _ = write!(
                out,
                "<li><span class=\"mono\">{}</span>: {}</li>",
                esc(&result.path),
                esc(result.incomplete.as_deref().unwrap_or_default())
            );
        }
        out.push_str("</ul></details>\n");
    }
}

fn locations(out: &mut String, report: &ScanReport) {
    if report.locations.is_empty() {
        return;
    }
    out.push_str("<h2 id=\"where\">Where the files are</h2>\n<p class=\"tally\">Exposure of the folders and buckets the files sit in, once per location. It counts for the exit code, not for the files' verdicts.</p>\n<div class=\"scroll short\"><table class=\"w\"><thead><tr><th>severity</th><th>rule</th><th>location</th><th>files</th></tr></thead><tbody>\n");
    for place in &report.locations {
        let _ = write!(
            out,
            "<tr><td class=\"sevcell\"><span class=\"sev {0}\">{0}</span></td><td class=\"rule\" title=\"{1}\">{2}</td><td><span class=\"mono\">{3}</span><br><small>{4}</small>",
            place.severity.as_str(),
            esc(place.rule_id.rule().title),
            esc(place.rule_id.as_str()),
            esc(&place.location),
            esc(&place.message),
        );
        let _ = write!(
            out,
            "</td><td class=\"count\"><details><summary>{}</summary><ul>",
            place.files
        );
        for path in &place.paths {
            let _ = write!(out, "<li class=\"mono\">{}</li>", esc(path));
        }
        if place.files > place.paths.len() {
            let _ = write!(
                out,
                "<li>… and {} more</li>",
                place.files - place.paths.len()
            );
        }
        out.push_str("</ul></details></td></tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
}

fn findings(out: &mut String, report: &ScanReport) {
    let rows: Vec<(&FileResult, &Finding)> = report
        .results
        .iter()
        .flat_map(|r| r.findings.iter().filter(|f| listed(f)).map(move |f| (r, f)))
        .collect();
    let mut chip_counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, f) in &rows {
        let key = if f.is_active() {
            f.severity.as_str()
        } else {
            "suppressed"
        };
        *chip_counts.entry(key).or_default() += 1;
    }
    out.push_str("<section id=\"findings\">\n<h2>Findings</h2>\n<div class=\"controls\"><input type=\"search\" id=\"q\" placeholder=\"Search files, rules, calls, locations…\" aria-label=\"Search findings\" autocomplete=\"off\" spellcheck=\"false\">\n<div class=\"chips\" role=\"group\" aria-label=\"Severity filter\">");
    for key in SEVERITIES_DESC
        .iter()
        .map(|s| s.as_str())
        .chain(["suppressed"])
    {
        let pressed = !matches!(key, "info" | "suppressed");
        let _ = write!(
            out,
            "<button type=\"button\" data-sev=\"{key}\" aria-pressed=\"{pressed}\">{key} · {}</button>",
            chip_counts.get(key).copied().unwrap_or(0)
        );
    }
    let _ = write!(
        out,
        "</div>\n<div class=\"tabs\" role=\"tablist\" aria-label=\"Group findings\"><button type=\"button\" role=\"tab\" data-view=\"file\" aria-selected=\"true\">by file</button><button type=\"button\" role=\"tab\" data-view=\"rule\" aria-selected=\"false\">by rule</button></div>\n<span class=\"count\" id=\"shown\">{} findings</span></div>\n",
        rows.len()
    );

    // By file: the files that need a person first, then by path.
    let mut files: Vec<&FileResult> = report
        .results
        .iter()
        .filter(|r| r.status != Status::Unsupported || r.findings.iter().any(listed))
        .collect();
    files.sort_by(|a, b| {
        verdict_rank(verdict(a))
            .cmp(&verdict_rank(verdict(b)))
            .then(b.content_severity.cmp(&a.content_severity))
            .then(a.path.cmp(&b.path))
    });
    out.push_str("<div class=\"view\" id=\"by-file\" data-view=\"file\"><div class=\"scroll\">\n");
    for (i, result) in files.iter().enumerate() {
        file_group(out, result, i < OPEN_GROUPS);
    }
    out.push_str("<p class=\"none\" hidden>No file matches the search and filters.</p></div>\n");
    let skipped = report.results.len() - files.len();
    if skipped > 0 {
        let _ = write!(
            out,
            "<p class=\"tally\">{skipped} file(s) were not model formats aigis knows and are not listed.</p>"
        );
    }
    out.push_str("</div>\n");

    // By rule: most severe rules first, then the most frequent.
    let mut by_rule: BTreeMap<RuleId, Vec<(&FileResult, &Finding)>> = BTreeMap::new();
    for (result, f) in &rows {
        by_rule.entry(f.rule_id).or_default().push((result, f));
    }
    let mut rules: Vec<(RuleId, Vec<(&FileResult, &Finding)>)> = by_rule.into_iter().collect();
    let worst = |rows: &[(&FileResult, &Finding)]| {
        rows.iter()
            .filter(|(_, f)| f.is_active())
            .map(|(_, f)| f.severity)
            .max()
    };
    rules.sort_by(|a, b| {
        worst(&b.1)
            .cmp(&worst(&a.1))
            .then(b.1.len().cmp(&a.1.len()))
            .then(a.0.as_str().cmp(b.0.as_str()))
    });
    out.push_str("<div class=\"view\" id=\"by-rule\" data-view=\"rule\"><div class=\"scroll\">\n");
    for (i, (rule, rows)) in rules.iter_mut().enumerate() {
        rows.sort_by(|a, b| {
            a.1.suppressed
                .is_some()
                .cmp(&b.1.suppressed.is_some())
                .then(b.1.severity.cmp(&a.1.severity))
                .then(a.0.path.cmp(&b.0.path))
        });
        rule_group(out, *rule, rows, i < OPEN_GROUPS);
    }
    out.push_str("<p class=\"none\" hidden>No finding matches the search and filters.</p></div></div>\n</section>\n");
}

/// Renders the report as one HTML document.
pub fn render(report: &ScanReport) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let title = if report.fails() {
        "failed"
    } else if report.fails_incomplete() {
        "not fully scanned"
    } else {
        "passed"
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src {}; script-src {}; img-src data:; base-uri 'none'; form-action 'none'\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"referrer\" content=\"no-referrer\">\n<title>aigis scan report: {title}</title>\n<style>{STYLE}</style></head><body>\n",
        csp_hash(STYLE),
        csp_hash(SCRIPT),
    );
    header(&mut out, report);
    out.push_str("<main>\n");
    verdict_banner(&mut out, report);
    summary(&mut out, report);
    warnings(&mut out, report);
    locations(&mut out, report);
    findings(&mut out, report);
    let _ = write!(
        out,
        "</main><footer>aigis {} · fail threshold {}</footer>\n<script>{SCRIPT}</script>\n</body></html>\n",
        esc(report.tool.version),
        report.fail_on
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use aigis_scan::Format;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }

    #[test]
    fn hostile_content_stays_text_and_the_policy_allows_only_our_code() {
        let hostile = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>";
        let finding = Finding::new(
            RuleId::PickleCallDangerous,
            format!("os.system('{hostile}')"),
        )
        .at(hostile)
        .with_indicators(vec![hostile.to_string()]);
        let mut report = ScanReport::new(vec![FileResult::new(
            format!("models/{hostile}.pkl"),
            Format::Pickle,
            10,
            Status::Ok,
            vec![finding],
        )]);
        report.targets = vec![hostile.to_string()];
        report.host = Some(hostile.to_string());
        report.policy = Some(hostile.to_string());
        report.warnings = vec![hostile.to_string()];
        let html = render(&report);
        assert_eq!(html.matches("<script").count(), 1, "{html}");
        assert!(!html.contains("<img"));
        assert!(html.contains("&lt;img src=x onerror=alert(2)&gt;"));
        assert!(!html.contains("unsafe-inline"));
        assert!(html.contains(&csp_hash(SCRIPT)) && html.contains(&csp_hash(STYLE)));
        assert!(html.contains("MALICIOUS"));
    }
}
