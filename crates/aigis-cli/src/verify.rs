//! `aigis verify`: check a model's OpenSSF Model Signing signature offline (`aigis-sign`).

use aigis_sign::{Digests, Status, Trust, TrustOptions, Verification};
use anyhow::Result;
use clap::ValueEnum;
use std::path::PathBuf;
use std::process::ExitCode;

/// How `aigis verify` prints its verdict.
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
pub enum VerifyFormat {
    /// For people.
    Text,
    /// The verification as one JSON object.
    Json,
}

/// The signer options the engine's commands and `aigis verify` share.
#[derive(clap::Args, Clone, Default, Debug)]
pub struct SignatureArgs {
    /// The signature bundle (default: `model.sig` inside the model's folder, beside a file).
    #[arg(long, value_name = "FILE")]
    pub signature: Option<PathBuf>,
    /// Verify key-signed models with this PEM public key.
    #[arg(long, value_name = "PUB.pem")]
    pub key: Option<PathBuf>,
    /// Verify certificate-signed models against this PEM CA certificate (or chain).
    #[arg(long, value_name = "CA.pem")]
    pub certificate_chain: Option<PathBuf>,
    /// Keyless: the signer's identity (certificate email or URI) required.
    #[arg(long, value_name = "EMAIL|URI", requires = "issuer")]
    pub identity: Option<String>,
    /// Keyless: the signer's OIDC issuer required.
    #[arg(long, value_name = "URL", requires = "identity")]
    pub issuer: Option<String>,
    /// A Sigstore `trusted_root.json` replacing the bundled public-good one (keyless).
    #[arg(long, value_name = "FILE")]
    pub trust_root: Option<PathBuf>,
    /// Paths (relative to the model) left out of the comparison, as model-signing's
    /// `--ignore-paths`.
    #[arg(long = "ignore-paths", value_name = "PATH")]
    pub ignore_paths: Vec<String>,
}

impl SignatureArgs {
    /// The engine's signature options (the key, chain and trusted root are checked here first,
    /// so a bad one stops the command).
    pub fn engine(&self) -> Result<aigis_engine::SignatureOptions> {
        let options = aigis_engine::SignatureOptions {
            trust: self.trust_options(),
            signature: self.signature.clone(),
        };
        if options.explicit() || self.trust_root.is_some() {
            self.trust()?;
        }
        Ok(options)
    }

    fn trust_options(&self) -> TrustOptions {
        TrustOptions {
            key: self.key.clone(),
            certificate_chain: self.certificate_chain.clone(),
            identity: self.identity.clone(),
            issuer: self.issuer.clone(),
            trust_root: self.trust_root.clone(),
            ignore_paths: self.ignore_paths.clone(),
        }
    }

    /// The trust these options describe.
    pub fn trust(&self) -> Result<Trust> {
        Ok(Trust::new(&self.trust_options())?)
    }
}

/// `aigis verify` arguments.
#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The model: its folder, or one model file.
    pub model: PathBuf,
    #[command(flatten)]
    pub signature: SignatureArgs,
    /// `text` for people, `json` for machines.
    #[arg(long, value_enum, default_value = "text")]
    pub format: VerifyFormat,
}

/// Runs `aigis verify`: exit 0 when verified, 1 otherwise (unsigned or invalid).
pub fn run(args: VerifyArgs) -> Result<ExitCode> {
    if !args.model.exists() {
        anyhow::bail!("{}: no such file or folder", args.model.display());
    }
    let trust = args.signature.trust()?;
    let signature = args
        .signature
        .signature
        .clone()
        .unwrap_or_else(|| aigis_sign::default_signature(&args.model));
    let outcome = aigis_sign::verify(&args.model, &signature, &trust, &Digests::new());
    match args.format {
        VerifyFormat::Json => println!("{}", serde_json::to_string_pretty(&outcome)?),
        VerifyFormat::Text => print!("{}", text(&args.model, &outcome)),
    }
    Ok(if outcome.status == Status::Verified {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn text(model: &std::path::Path, outcome: &Verification) -> String {
    let safe = aigis_report::terminal_safe;
    let mut out = format!(
        "{}: {}",
        safe(&model.display().to_string()),
        outcome.status.as_str()
    );
    if let Some(identity) = &outcome.identity {
        out.push_str(&format!(" by {}", safe(identity)));
    }
    if let Some(issuer) = &outcome.issuer {
        out.push_str(&format!(" ({})", safe(issuer)));
    }
    out.push('\n');
    if let Some(method) = &outcome.method {
        out.push_str(&format!("  method: {method}\n"));
    }
    if let Some(root) = &outcome.root_digest {
        out.push_str(&format!(
            "  root digest: {root} ({} files)\n",
            outcome.files
        ));
    }
    for mismatch in &outcome.mismatches {
        out.push_str(&format!(
            "  {}: {}\n",
            mismatch.difference.as_str(),
            safe(&mismatch.path)
        ));
    }
    if let Some(reason) = &outcome.reason {
        out.push_str(&format!("  reason: {}\n", safe(reason)));
    }
    out
}
