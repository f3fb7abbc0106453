//! `aigis detonate FILE`: the file scanned statically, then loaded with its real loader in the
//! sandbox of `aigis-detonate`; what the load attempted is shown beside the static findings.
//! Never run by `aigis scan`: the operator asks for it, with their own Python and framework.

use crate::{PolicyArgs, load_policy};
use aigis_detonate::{Loader, Options};
use aigis_engine::{EngineOptions, NoProgress};
use aigis_report::terminal;
use anyhow::{Result, bail};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LoaderArg {
    /// The loader of the format aigis detects.
    Auto,
    Pickle,
    Torch,
    Joblib,
    Numpy,
    Keras,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Output {
    /// The file's result with the runtime findings, for people.
    Terminal,
    /// `{"result": …, "detonation": …}`: the file's result (JSON contract) with the runtime
    /// findings, and what the load attempted.
    Json,
}

#[derive(clap::Args)]
pub(crate) struct DetonateArgs {
    /// The model file.
    file: PathBuf,
    /// The loader to give it to.
    #[arg(long, value_enum, default_value = "auto")]
    loader: LoaderArg,
    /// The Python whose framework loads the file (aigis never installs one).
    #[arg(long, value_name = "PATH", default_value = "python3")]
    python: PathBuf,
    /// Wall time before the sandbox is killed, in seconds.
    #[arg(long, value_name = "SECONDS", default_value = "60")]
    timeout: u64,
    /// Address-space limit of the sandbox, in MiB.
    #[arg(long, value_name = "MIB", default_value = "4096")]
    memory: u64,
    /// Output format.
    #[arg(long, value_enum, default_value = "terminal")]
    format: Output,
    #[command(flatten)]
    policy: PolicyArgs,
}

pub(crate) fn run(args: DetonateArgs) -> Result<ExitCode> {
    if !args.file.is_file() {
        bail!("{}: not a file", args.file.display());
    }
    let options = EngineOptions {
        policy: load_policy(&args.policy)?,
        ..EngineOptions::default()
    };
    let target = args.file.to_string_lossy().into_owned();
    let run = aigis_engine::run(std::slice::from_ref(&target), &options, &NoProgress)?;
    let mut report = crate::view::report(&run);
    let Some(result) = report.results.first_mut() else {
        bail!("{target}: nothing was scanned");
    };
    let loader = match args.loader {
        LoaderArg::Auto => Loader::for_format(result.format).ok_or_else(|| {
            anyhow::anyhow!(
                "no loader is known for format `{}`; name one with --loader",
                result.format
            )
        })?,
        LoaderArg::Pickle => Loader::Pickle,
        LoaderArg::Torch => Loader::Torch,
        LoaderArg::Joblib => Loader::Joblib,
        LoaderArg::Numpy => Loader::Numpy,
        LoaderArg::Keras => Loader::Keras,
    };
    let detonation = aigis_detonate::detonate(
        &args.file,
        loader,
        &Options {
            python: args.python.clone(),
            timeout: Duration::from_secs(args.timeout),
            memory_mib: args.memory,
            confine_with: std::env::current_exe().ok(),
        },
    )?;
    result.findings.extend(detonation.findings.iter().cloned());
    result.max_severity = result.findings.iter().map(|f| f.severity).max();
    let failing = result.max_severity.is_some_and(|s| s >= run.fail_on);
    let text = match args.format {
        Output::Terminal => {
            let style = terminal::Style {
                color: crate::view::use_color(),
                verbose: true,
            };
            terminal::render(&report, style)
        }
        Output::Json => {
            let doc = serde_json::json!({
                "result": report.results.first(),
                "detonation": detonation,
            });
            serde_json::to_string_pretty(&doc)? + "\n"
        }
    };
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(ExitCode::from(u8::from(failing)))
}

/// `aigis scan --detonate`: each local file of the run whose format has a known loader is
/// detonated and its runtime findings join its result. The sandbox missing is an error (the
/// operator asked for it); a loader that cannot start leaves that result incomplete. Files are
/// detonated a few at a time (each sandbox mostly waits on its interpreter).
pub(crate) fn detonate_results(
    run: &mut aigis_engine::Run,
    python: &std::path::Path,
) -> Result<()> {
    let options = Options {
        python: python.to_path_buf(),
        confine_with: std::env::current_exe().ok(),
        ..Options::default()
    };
    let sandbox = aigis_detonate::Sandbox::prepare(&options)?;
    let jobs: Vec<(usize, PathBuf, Loader)> = run
        .results
        .iter()
        .enumerate()
        .filter_map(|(i, result)| {
            let loader = Loader::for_format(result.format)?;
            let path = PathBuf::from(&result.path);
            path.is_file().then_some((i, path, loader))
        })
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8));
    let done = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..workers.min(jobs.len()) {
            scope.spawn(|| {
                loop {
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((i, path, loader)) = jobs.get(k) else {
                        break;
                    };
                    let outcome = sandbox.detonate(path, *loader);
                    if let Ok(mut done) = done.lock() {
                        done.push((*i, outcome));
                    }
                }
            });
        }
    });
    let done = done
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a detonation worker panicked"))?;
    for (i, outcome) in done {
        let Some(result) = run.results.get_mut(i) else {
            continue;
        };
        match outcome {
            Ok(detonation) => {
                result.findings.extend(detonation.findings);
                result.max_severity = result.findings.iter().map(|f| f.severity).max();
            }
            Err(err) => {
                result
                    .incomplete
                    .get_or_insert_with(|| format!("not detonated: {err}"));
            }
        }
    }
    Ok(())
}

/// `aigis __confine -- PROGRAM ARGS…` (hidden; run by the sandbox): Landlock, then the loader.
pub(crate) fn confine(command: &[std::ffi::OsString]) -> ExitCode {
    let err = aigis_detonate::landlock::exec_confined(command);
    eprintln!("aigis __confine: {err}");
    ExitCode::from(126)
}
