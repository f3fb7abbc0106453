//! `aigis serve`: the inventory's API over HTTP (see `aigis-server`), and its tokens.

use anyhow::{Context as _, Result, bail};
use clap::Subcommand;
use std::net::SocketAddr;
use std::process::ExitCode;

/// `aigis serve …`.
#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ServeArgs {
    #[command(subcommand)]
    command: Option<TokenCommand>,
    /// Address to listen on. Anything but loopback exposes the inventory, so reads need a
    /// token too.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The inventory database: sqlite:PATH or postgres://USER@HOST/DB [default:
    /// $XDG_DATA_HOME/aigis/inventory.db].
    #[arg(long, value_name = "URL", env = "AIGIS_DB", global = true)]
    db: Option<String>,
    /// Largest request body (a pushed report), in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    max_body_mib: usize,
    /// Print the OpenAPI document and exit.
    #[arg(long)]
    openapi: bool,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// API tokens: bearer tokens with scopes, kept hashed in the inventory.
    Token {
        #[command(subcommand)]
        command: Token,
    },
}

#[derive(Subcommand)]
enum Token {
    /// Make a token and print it (the only time it is shown).
    Create {
        /// A name to know it by (and revoke it with).
        #[arg(long)]
        name: String,
        /// Scopes: read (the API), ingest (push reports), admin (triage; implies the others).
        #[arg(long, value_delimiter = ',', required = true)]
        scope: Vec<String>,
    },
    /// List tokens (names, scopes, last use; never the tokens).
    List,
    /// Revoke a token by name.
    Revoke {
        /// Its name.
        name: String,
    },
}

/// Runs `aigis serve`.
pub fn run(args: ServeArgs) -> Result<ExitCode> {
    if args.openapi {
        println!("{}", aigis_server::openapi_json());
        return Ok(ExitCode::SUCCESS);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the server runtime")?;
    let store = crate::inventory::open(&rt, args.db.as_deref())?;
    if let Some(TokenCommand::Token { command }) = args.command {
        return tokens(&rt, &store, command);
    }
    if args.max_body_mib == 0 {
        bail!("--max-body-mib must be at least 1");
    }
    let exposed = !args.listen.ip().is_loopback();
    let config = aigis_server::ServerConfig {
        max_body: args.max_body_mib.saturating_mul(1 << 20),
        reads_need_token: exposed,
    };
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let local = listener.local_addr()?;
        eprintln!(
            "aigis: serving the inventory on http://{local}/ (API /api/v1, OpenAPI /api/v1/openapi.json){}",
            if exposed {
                "; exposed beyond loopback: every request needs a token"
            } else {
                "; reads without a token from this host, writes need one"
            }
        );
        aigis_server::serve(listener, aigis_server::router(store.clone(), config), shutdown())
            .await
            .context("serving")?;
        store.close().await;
        eprintln!("aigis: server stopped");
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Resolves on Ctrl-C or SIGTERM: the server stops taking connections and finishes requests.
async fn shutdown() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => return interrupt.await,
            };
        tokio::select! {
            () = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    interrupt.await;
}

fn tokens(
    rt: &tokio::runtime::Runtime,
    store: &aigis_store::Store,
    command: Token,
) -> Result<ExitCode> {
    match command {
        Token::Create { name, scope } => {
            let token = rt
                .block_on(store.create_token(&name, &scope))
                .context("creating the token")?;
            eprintln!(
                "aigis: token `{}` ({}) created; it is shown once:",
                aigis_report::terminal_safe(&name),
                scope.join(",")
            );
            println!("{token}");
        }
        Token::List => {
            for token in rt.block_on(store.tokens())? {
                println!(
                    "{}\t{}\tcreated {}\t{}{}",
                    aigis_report::terminal_safe(&token.name),
                    token.scopes.join(","),
                    crate::view::rfc3339(u64::try_from(token.created_at).unwrap_or(0)),
                    token
                        .last_used
                        .map_or("never used".to_owned(), |at| format!(
                            "last used {}",
                            crate::view::rfc3339(u64::try_from(at).unwrap_or(0))
                        )),
                    if token.revoked_at.is_some() {
                        "\trevoked"
                    } else {
                        ""
                    }
                );
            }
        }
        Token::Revoke { name } => {
            rt.block_on(store.revoke_token(&name))
                .context("revoking the token")?;
            eprintln!(
                "aigis: token `{}` revoked",
                aigis_report::terminal_safe(&name)
            );
        }
    }
    rt.block_on(store.close());
    Ok(ExitCode::SUCCESS)
}
