//! API tokens for `aigis serve`: random, shown once, stored as their SHA-256 (a leaked database
//! gives no usable token), each with scopes: `read` (the API and dashboard), `ingest` (push scan
//! reports and BOMs), `admin` (triage, and everything else).

use crate::{Result, Store, StoreError};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

/// What a token may do.
pub const SCOPES: &[&str] = &["read", "ingest", "admin"];

/// A token as listed (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenRow {
    /// Its name.
    pub name: String,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// When it was made (seconds since the epoch).
    pub created_at: i64,
    /// When it was last accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used: Option<i64>,
    /// When it was revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Store {
    /// Makes a token named `name` with `scopes` and returns it: the only time it is shown.
    pub async fn create_token(&self, name: &str, scopes: &[String]) -> Result<String> {
        if name.trim().is_empty() || name.chars().any(char::is_control) {
            return Err(StoreError::Invalid("a token needs a printable name".into()));
        }
        if scopes.is_empty() {
            return Err(StoreError::Invalid(format!(
                "a token needs at least one scope ({})",
                SCOPES.join(", ")
            )));
        }
        if let Some(bad) = scopes.iter().find(|s| !SCOPES.contains(&s.as_str())) {
            return Err(StoreError::Invalid(format!(
                "unknown scope `{bad}` ({})",
                SCOPES.join(", ")
            )));
        }
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret)
            .map_err(|e| StoreError::Invalid(format!("no randomness for a token: {e}")))?;
        let token = format!("aigis_{}", hex::encode(secret));
        let mut scopes = scopes.to_vec();
        scopes.sort();
        scopes.dedup();
        sqlx::query(
            "INSERT INTO api_tokens (name, token_sha256, scopes, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(name)
        .bind(digest(&token))
        .bind(scopes.join(","))
        .bind(crate::query::now())
        .execute(&self.pool)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Invalid(format!("a token named `{name}` exists (revoke it first)"))
            }
            other => other.into(),
        })?;
        Ok(token)
    }

    /// The scopes of `token`, or `None` when it is unknown or revoked. Looked up by its digest,
    /// so the comparison never touches the token's own bytes.
    pub async fn token_scopes(&self, token: &str) -> Result<Option<Vec<String>>> {
        let row: Option<(i64, String)> = sqlx::query_as(
            "SELECT id, scopes FROM api_tokens WHERE token_sha256 = $1 AND revoked_at IS NULL",
        )
        .bind(digest(token))
        .fetch_optional(&self.pool)
        .await?;
        let Some((id, scopes)) = row else {
            return Ok(None);
        };
        sqlx::query("UPDATE api_tokens SET last_used = $1 WHERE id = $2")
            .bind(crate::query::now())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(Some(scopes.split(',').map(str::to_owned).collect()))
    }

    /// Every token, newest first.
    pub async fn tokens(&self) -> Result<Vec<TokenRow>> {
        type Row = (String, String, i64, Option<i64>, Option<i64>);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT name, scopes, created_at, last_used, revoked_at FROM api_tokens ORDER BY id DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(name, scopes, created_at, last_used, revoked_at)| TokenRow {
                    name,
                    scopes: scopes.split(',').map(str::to_owned).collect(),
                    created_at,
                    last_used,
                    revoked_at,
                },
            )
            .collect())
    }

    /// Revokes the token named `name`; it is refused from now on.
    pub async fn revoke_token(&self, name: &str) -> Result<()> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1, name = name || ' (revoked ' || CAST($1 AS TEXT) || ')' \
             WHERE name = $2 AND revoked_at IS NULL",
        )
        .bind(crate::query::now())
        .bind(name)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("no token named `{name}`")));
        }
        Ok(())
    }
}
